"""PostgreSQL: the external IDs' contact checked once per statement, locking only contacts of others

Revision ID: 0015_external_ids_contact_check
Revises: 0014_contacts_mode_check
Create Date: 2026-12-02 15:00:00

The last per-row key of a first load: PostgreSQL checked every new external ID's contact with a
trigger per row that locks the contact FOR KEY SHARE (6-10 s of a million-row first load,
benchmarks/README.md, "PostgreSQL first load, second round (issue 14)"). A statement trigger that
locked every contact as well measured no faster (0014's note): the lock writes every contact's
heap tuple again. But a contact that the inserting transaction wrote itself (inserted, or updated:
its row lock is held until commit) cannot be deleted by anyone else before that transaction ends,
so it needs no lock. The check per statement:

- finds the statement's contacts that this transaction did not write (`xmin` is not its own id);
  in a first load that is none, and the search is one hash join over the contacts;
- holds those FOR KEY SHARE until commit, as the key did (a concurrent delete waits, or the ID
  waits for a concurrent delete and is then refused), and then checks that every one exists,
  in a snapshot taken after the lock.

A contact that a subtransaction wrote carries the subtransaction's id: it is locked like anyone
else's (slower, not wrong). The other side, as the key's NO ACTION did: a contact (or a contact's
new id) that external IDs still name cannot be deleted (checked once per DELETE statement, so a
statement that deletes the IDs with their contacts passes), and an ID moved to another contact
needs that contact, locked. TRUNCATE of contacts alone is not refused (the key refused it; nothing
here truncates one table alone, the tests truncate all with CASCADE).

The errors keep SQLSTATE 23503 (foreign_key_violation): SQLAlchemy raises IntegrityError as before.
SQLite keeps its key (an index lookup per row there).
"""

from alembic import op

revision = '0015_external_ids_contact_check'
down_revision = '0014_contacts_mode_check'
branch_labels = None
depends_on = None

REFUSED = "USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME"

FUNCTIONS = {
    # A statement's new external IDs: their contacts exist and stay until commit.
    "external_ids_check_contact": f"""
    DECLARE
        others integer[];
    BEGIN
        -- Contacts this transaction wrote itself: no one else can delete them before it commits.
        SELECT array_agg(DISTINCT n.contact_id) INTO others FROM new_ids n WHERE NOT EXISTS (
            SELECT 1 FROM contacts c WHERE c.id = n.contact_id AND c.xmin = pg_current_xact_id()::xid);
        IF others IS NOT NULL THEN
            -- The others are held (a delete waits for this transaction), then looked for again in a
            -- snapshot that sees what the lock waited for (a concurrent delete that committed).
            PERFORM 1 FROM contacts c WHERE c.id = ANY (others) FOR KEY SHARE;
            IF EXISTS (SELECT 1 FROM unnest(others) o (id)
                    WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = o.id)) THEN
                RAISE EXCEPTION 'an external ID needs its contact' {REFUSED};
            END IF;
        END IF;
        RETURN NULL;
    END""",
    # An external ID moved to another contact (a merge moves the merged-away contacts' IDs).
    "external_ids_check_contact_row": f"""
    BEGIN
        PERFORM 1 FROM contacts c WHERE c.id = NEW.contact_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'an external ID needs its contact' {REFUSED};
        END IF;
        RETURN NULL;
    END""",
    # Contacts deleted while external IDs still name them (at the end of the statement, as NO ACTION).
    "contacts_keep_external_ids": f"""
    BEGIN
        IF EXISTS (SELECT 1 FROM external_ids x WHERE x.contact_id IN (SELECT g.id FROM gone g)) THEN
            RAISE EXCEPTION 'the contact still has external IDs' {REFUSED};
        END IF;
        RETURN NULL;
    END""",
    # A contact renumbered while external IDs still name its old id (never done; as the key did).
    "contacts_keep_external_ids_row": f"""
    BEGIN
        IF EXISTS (SELECT 1 FROM external_ids x WHERE x.contact_id = OLD.id) THEN
            RAISE EXCEPTION 'the contact still has external IDs' {REFUSED};
        END IF;
        RETURN NULL;
    END""",
}

# (name, table, when and how it fires)
TRIGGERS = [
    ("external_ids_contact_on_insert", "external_ids", "AFTER INSERT ON external_ids "
     "REFERENCING NEW TABLE AS new_ids FOR EACH STATEMENT EXECUTE FUNCTION external_ids_check_contact()"),
    ("external_ids_contact_on_update", "external_ids", "AFTER UPDATE OF contact_id ON external_ids "
     "FOR EACH ROW WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id) "
     "EXECUTE FUNCTION external_ids_check_contact_row()"),
    ("contacts_keep_external_ids", "contacts", "AFTER DELETE ON contacts REFERENCING OLD TABLE AS gone "
     "FOR EACH STATEMENT EXECUTE FUNCTION contacts_keep_external_ids()"),
    ("contacts_keep_external_ids_on_update", "contacts", "AFTER UPDATE OF id ON contacts FOR EACH ROW "
     "WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION contacts_keep_external_ids_row()"),
]

KEY = "external_ids_contact_id_fkey"  # as PostgreSQL named migration 0001's unnamed key


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps its foreign key (see above)
    op.drop_constraint(KEY, "external_ids", type_="foreignkey")
    created = [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}\n$$"
               for name, body in FUNCTIONS.items()]
    created += [f"CREATE TRIGGER {name} {definition}" for name, _table, definition in TRIGGERS]
    for statement in created:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    dropped = [f"DROP TRIGGER {name} ON {table}" for name, table, _definition in reversed(TRIGGERS)]
    dropped += [f"DROP FUNCTION {name}()" for name in FUNCTIONS]
    for statement in dropped:
        op.execute(statement)
    op.create_foreign_key(KEY, "external_ids", "contacts", ["contact_id"], ["id"])
