"""PostgreSQL: the contacts' mode and the external IDs' link checked once per statement, not row by row

Revision ID: 0014_contacts_mode_check
Revises: 0013_job_error_words
Create Date: 2026-12-02 08:30:00

PostgreSQL checks a foreign key with a trigger per inserted row. In a million-row first load the
contacts' mode key and the external IDs' key to their link cost 5-10 s (benchmarks/README.md,
"Applying imports (issue 14)"), for rows that all name one account and one link. On PostgreSQL
they become triggers that check a statement's distinct accounts and links once, with the same
guarantees (tests/integration/test_schema.py, test_reference_checks.py):

- fk_contacts_account_mode: a contact carries its account's dedup mode, and a change of the
  account's mode is carried to its contacts (what ON UPDATE CASCADE did). The check holds the
  accounts FOR KEY SHARE until commit, as the key did: `uq_accounts_id_mode` makes the mode part of
  the account's key, so a concurrent mode change waits for the inserting transaction, and an insert
  waits for a concurrent mode change and then sees the new mode.
- the external IDs' key to links: no ID without its link, held FOR KEY SHARE until commit.
- Deleting an account or a link (or changing its id) that is still referred to is refused.

The external IDs' key to contacts stays a key: a check per statement must still lock every
contact it names, and visiting a million fresh rows for that (and for their existence) measured
8 s against the key's 6.

The errors keep SQLSTATE 23503 (foreign_key_violation): SQLAlchemy raises IntegrityError as before.
SQLite keeps its foreign keys: it checks one with an index lookup, about 0.3 s of a million-row
import, and dropping a key there means rebuilding the two largest tables of every database.
"""

import sqlalchemy as sa
from alembic import op

revision = '0014_contacts_mode_check'
down_revision = '0013_job_error_words'
branch_labels = None
depends_on = None

REFUSED = "USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME"

FUNCTIONS = {
    # A statement's new contacts: their accounts held, their mode the account's.
    "contacts_check_mode": f"""
        PERFORM 1 FROM accounts a WHERE a.id IN (SELECT DISTINCT n.account_id FROM new_contacts n)
            FOR KEY SHARE;
        IF EXISTS (SELECT 1 FROM (SELECT DISTINCT account_id, dedup_mode FROM new_contacts) n
                WHERE NOT EXISTS (SELECT 1 FROM accounts a
                    WHERE a.id = n.account_id AND a.dedup_mode = n.dedup_mode)) THEN
            RAISE EXCEPTION 'a contact must carry its account''s dedup_mode' {REFUSED};
        END IF;
        RETURN NULL;""",
    # A contact whose account or mode an UPDATE changed (rare: the trigger's WHEN says when).
    "contacts_check_mode_row": f"""
        PERFORM 1 FROM accounts a WHERE a.id = NEW.account_id AND a.dedup_mode = NEW.dedup_mode
            FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'a contact must carry its account''s dedup_mode' {REFUSED};
        END IF;
        RETURN NULL;""",
    # An account's mode change reaches its contacts; its deletion or a new id is refused while it has any.
    "accounts_keep_contacts": f"""
        IF TG_OP = 'DELETE' OR NEW.id <> OLD.id THEN
            IF EXISTS (SELECT 1 FROM contacts c WHERE c.account_id = OLD.id) THEN
                RAISE EXCEPTION 'the account still has contacts' {REFUSED};
            END IF;
        ELSE
            UPDATE contacts SET dedup_mode = NEW.dedup_mode WHERE account_id = NEW.id;
        END IF;
        RETURN NULL;""",
    # A statement's new external IDs: their links exist and stay until commit (one link per import:
    # the distinct links are checked, not every row). The lock comes first, the check after it, in
    # a snapshot that sees what the lock waited for (a concurrent delete that committed).
    "external_ids_check_link": f"""
        PERFORM 1 FROM links l WHERE l.id IN (SELECT DISTINCT n.link_id FROM new_ids n) FOR KEY SHARE;
        IF EXISTS (SELECT 1 FROM (SELECT DISTINCT link_id FROM new_ids) n WHERE NOT EXISTS (
                SELECT 1 FROM links l WHERE l.id = n.link_id)) THEN
            RAISE EXCEPTION 'an external ID needs its link' {REFUSED};
        END IF;
        RETURN NULL;""",
    # An external ID moved to another link (never done; as a foreign key does).
    "external_ids_check_link_row": f"""
        PERFORM 1 FROM links l WHERE l.id = NEW.link_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'an external ID needs its link' {REFUSED};
        END IF;
        RETURN NULL;""",
    # A link deleted, or renumbered, while external IDs still name it.
    "links_keep_external_ids": f"""
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
            RETURN NULL;
        END IF;
        IF EXISTS (SELECT 1 FROM external_ids x WHERE x.link_id = OLD.id) THEN
            RAISE EXCEPTION 'the link still has external IDs' {REFUSED};
        END IF;
        RETURN NULL;""",
}

# (name, table, when and how it fires)
TRIGGERS = [
    ("contacts_mode_on_insert", "contacts", "AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_contacts "
     "FOR EACH STATEMENT EXECUTE FUNCTION contacts_check_mode()"),
    # Per row, but the WHEN is evaluated without calling the function, and an import's or an
    # edit's updates never change these columns. (Transition tables take no column list.)
    ("contacts_mode_on_update", "contacts", "AFTER UPDATE OF account_id, dedup_mode ON contacts FOR EACH ROW "
     "WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id "
     "OR OLD.dedup_mode IS DISTINCT FROM NEW.dedup_mode) EXECUTE FUNCTION contacts_check_mode_row()"),
    ("accounts_mode_to_contacts", "accounts", "AFTER UPDATE OF id, dedup_mode ON accounts FOR EACH ROW "
     "WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.dedup_mode IS DISTINCT FROM NEW.dedup_mode) "
     "EXECUTE FUNCTION accounts_keep_contacts()"),
    ("accounts_keep_contacts", "accounts", "AFTER DELETE ON accounts FOR EACH ROW "
     "EXECUTE FUNCTION accounts_keep_contacts()"),
    ("external_ids_link_on_insert", "external_ids", "AFTER INSERT ON external_ids "
     "REFERENCING NEW TABLE AS new_ids FOR EACH STATEMENT EXECUTE FUNCTION external_ids_check_link()"),
    ("external_ids_link_on_update", "external_ids", "AFTER UPDATE OF link_id ON external_ids FOR EACH ROW "
     "WHEN (OLD.link_id IS DISTINCT FROM NEW.link_id) EXECUTE FUNCTION external_ids_check_link_row()"),
    ("links_keep_external_ids", "links", "AFTER DELETE OR UPDATE OF id ON links FOR EACH ROW "
     "EXECUTE FUNCTION links_keep_external_ids()"),
]

# The keys the triggers replace: (name as created, table, columns, referred table, referred columns,
# ON UPDATE); a name None lets PostgreSQL name it, as migration 0001 did.
KEYS: list[tuple[str | None, str, list[str], str, list[str], str | None]] = [
    ("fk_contacts_account_mode", "contacts", ["account_id", "dedup_mode"], "accounts", ["id", "dedup_mode"],
     "CASCADE"),
    (None, "external_ids", ["link_id"], "links", ["id"], None),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps its foreign keys (see above)
    for _name, table, columns, referred, _referred_columns, _onupdate in KEYS:
        op.drop_constraint(_key_name(table, columns, referred), table, type_="foreignkey")
    for name, body in FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN{body}\nEND $$")
    for name, _table, definition in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _definition in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")
    for key_name, table, columns, referred, referred_columns, onupdate in KEYS:
        op.create_foreign_key(key_name, table, referred, columns, referred_columns, onupdate=onupdate)


def _key_name(table: str, columns: list[str], referred: str) -> str:
    """The name PostgreSQL gave the key (the unnamed ones got `<table>_<column>_fkey`)."""
    for key in sa.inspect(op.get_bind()).get_foreign_keys(table):
        if key["constrained_columns"] == columns and key["referred_table"] == referred:
            return str(key["name"])
    raise LookupError(f"no foreign key {table} {columns} -> {referred}")
