"""Classifying staged rows against the account's contacts, set-based.

The result is the import plan, a narrow table: per staged row its action (create, update,
unchanged, skip or reject), the contact it targets and, for creates, the id it gets. The field
values stay in the staging table; applying the plan joins the two by row number.
The rules are DESIGN.md's matching table: `_decision` is that table, one CASE per account mode
and match key. Rows of one file that bring the same address are settled by file order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from importer.rows import StagedField
from importer.stage import STAGE, StageTable
from importer.vocabulary import ContactStatus

PLAN = "import_plan"
REPEATED = "import_repeated_addresses"
ACCEPTED = "('create', 'update', 'unchanged')"
NOT_MAILABLE = f"('{ContactStatus.UNSUBSCRIBED}', '{ContactStatus.BOUNCED}')"
# SQLite's functions take at most 127 arguments, PostgreSQL's 100: big documents are joined.
PAIRS_PER_OBJECT = 50


@dataclass(frozen=True)
class PlanContext:
    """The table names and parameters the plan is computed with."""

    contacts: str
    external_ids: str
    account_id: int
    dedup_mode: str
    by_external_id: bool
    link_id: int | None
    mode: str  # upsert, create_only, update_only
    empty_clears: bool
    fields: tuple[StagedField, ...]
    status_mapped: bool = False  # the file has a status column
    status_history: str = "contact_status_history"
    import_id: int | None = None  # the history's source_id

    def parameters(self) -> dict:
        """The bound parameters of the plan's and the apply's statements."""
        names = {f"k_{f.column}": f.name for f in self.fields}
        return {"account": self.account_id, "link": self.link_id, "mode": self.dedup_mode, **names}

    def keeps_status(self, row: str, current: str) -> str:
        """SQL: row `row` says its contact `current` is active while it is unsubscribed or bounced.

        An import never makes a contact mailable again (DESIGN.md, "Consent"): such a row keeps the
        stored status. With empty_clears an empty status cell says "active" too.
        """
        if not self.status_mapped:
            return "1 = 0"
        says_active = (f"coalesce({row}.status, 'active') = 'active'" if self.empty_clears
                       else f"{row}.status = 'active'")
        return f"({says_active} AND {current}.status IN {NOT_MAILABLE})"


# The plan's columns but its new ids, as _plan_sql makes them.
PLAN_COLUMNS = ("row_no", "match_value", "address_key", "merged_rows", "merged_row_nos", "target_id",
                "attach", "found", "addr_known", "in_file_earlier", "repeated", "action", "reason",
                "status_kept")


def build_plan(conn: Connection, ctx: PlanContext) -> None:
    """Create the plan table from the staging table (inside the import's transaction)."""
    for table in (PLAN, REPEATED):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    params = ctx.parameters()
    if conn.dialect.name == "postgresql":
        # The contacts' id sequence, looked up once: pg_get_serial_sequence() in the plan itself
        # would search the catalog again for every row (2 s of a million-row plan).
        params["id_sequence"] = conn.execute(
            text("SELECT CAST(CAST(pg_get_serial_sequence(:table, 'id') AS regclass) AS oid)"),
            {"table": ctx.contacts},
        ).scalar_one()
    if conn.dialect.name == "sqlite":
        # The table counts ids in sqlite_sequence (AUTOINCREMENT): ids of deleted contacts stay taken.
        params["id_base"] = conn.execute(text(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{ctx.contacts}'), 0), "
            f"coalesce((SELECT max(id) FROM {ctx.contacts}), 0))"
        )).scalar_one()
    if ctx.by_external_id:
        _merge_rows_of_one_contact(conn, ctx)
        # Matching by ID, one file can bring an address several times (by e-mail it cannot:
        # such rows were merged). The few repeated addresses are listed once, up front.
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {REPEATED} AS SELECT address_key, min(row_no) AS first_row "
            f"FROM {STAGE} WHERE address_key IS NOT NULL GROUP BY address_key HAVING count(*) > 1"
        )
        conn.exec_driver_sql(f"CREATE UNIQUE INDEX {REPEATED}_key ON {REPEATED} (address_key)")
    conn.execute(text(_plan_sql(ctx, conn.dialect.name)), params)
    if ctx.by_external_id:
        # Only rows at repeated addresses are looked up by address: index just those.
        conn.exec_driver_sql(
            f"CREATE INDEX {PLAN}_address ON {PLAN} (address_key, row_no) WHERE repeated = 1"
        )
        if ctx.dedup_mode == "email":
            _refuse_repeated_addresses(conn, ctx)
        _keep_earlier_claims_only(conn)
    conn.exec_driver_sql(f"ANALYZE {PLAN}")


def _merge_rows_of_one_contact(conn: Connection, ctx: PlanContext) -> None:
    """Merge rows whose different IDs lead to one contact, as rows with one key are merged.

    A contact keeps the IDs of contacts merged into it, so the linked system's next file may bring
    it under its own ID and under those. Each such row would update it (and only one of them take
    effect); merged, the later non-empty values win. Only links with merged IDs can have them.
    """
    if conn.execute(text(f"SELECT 1 FROM {ctx.external_ids} WHERE link_id = :link AND merged LIMIT 1"),
                    {"link": ctx.link_id}).first() is None:
        return
    hits = (f"SELECT s.row_no, x.contact_id FROM {STAGE} s "
            f"JOIN {ctx.external_ids} x ON x.link_id = :link AND x.value = s.match_value")
    StageTable(conn, ctx.fields).merge_groups(
        f"SELECT h.row_no, h.contact_id AS group_key FROM ({hits}) h WHERE h.contact_id IN "
        f"(SELECT h2.contact_id FROM ({hits}) h2 GROUP BY h2.contact_id HAVING count(*) > 1)",
        {"link": ctx.link_id},
    )


def _refuse_repeated_addresses(conn: Connection, ctx: PlanContext) -> None:
    """In an email account, a later row may not claim an address an earlier row of the file took.

    The earlier row leaves a contact with an ID for the link at the address. A later row with a
    known ID meets an address_conflict; one with an unknown ID an id_conflict: it is about a new
    contact, so update_only skips it (as it skips an id_conflict with the account's contacts).
    """
    unknown_id = ("'skip'", "NULL") if ctx.mode == "update_only" else ("'reject'", "'id_conflict'")
    conn.exec_driver_sql(
        f"UPDATE {PLAN} SET new_id = NULL, "
        f"action = CASE WHEN found = 1 THEN 'reject' ELSE {unknown_id[0]} END, "
        f"reason = CASE WHEN found = 1 THEN 'address_conflict' ELSE {unknown_id[1]} END "
        f"WHERE repeated = 1 AND action IN {ACCEPTED} "
        f"AND row_no > (SELECT min(p.row_no) FROM {PLAN} p WHERE p.repeated = 1 "
        f"AND p.address_key = {PLAN}.address_key AND p.action IN {ACCEPTED})"
    )


def _keep_earlier_claims_only(conn: Connection) -> None:
    """An address is "in the file earlier" only where an earlier row creates or updates a contact.

    A skipped or rejected earlier row leaves the address to nobody: a new contact there does not
    share it (created_shared_address), in an email account above all.
    """
    conn.exec_driver_sql(
        f"UPDATE {PLAN} SET in_file_earlier = 0 WHERE in_file_earlier = 1 AND NOT EXISTS ("
        f"SELECT 1 FROM {PLAN} p WHERE p.repeated = 1 AND p.address_key = {PLAN}.address_key "
        f"AND p.row_no < {PLAN}.row_no AND p.action IN {ACCEPTED})"
    )


def _plan_sql(ctx: PlanContext, dialect: str) -> str:
    if dialect == "sqlite":
        # Under SQLite's write lock nobody else inserts: max(id) + row number is free, in file order.
        new_id = "CASE WHEN s.action2 = 'create' THEN :id_base + s.row_no END AS new_id"
        return f"CREATE TEMP TABLE {PLAN} AS {_decided_rows(ctx, dialect, new_id)}"
    # Ids for new contacts are given out now, so that external IDs can point at them; with ORDER BY
    # PostgreSQL calls nextval() after sorting, so they follow the file's order. The fence (OFFSET
    # 0) decides each row below the sort: else the comparisons with the stored contact are put off
    # until after it too, and the sort carries all they read (a million-row re-import sorted 378 MB
    # on disk, the stored documents among them).
    return (f"CREATE TEMP TABLE {PLAN} AS SELECT {', '.join(PLAN_COLUMNS)}, "
            "CASE WHEN action2 = 'create' THEN nextval(CAST(CAST(:id_sequence AS bigint) AS regclass)) "
            f"END AS new_id FROM ({_decided_rows(ctx, dialect, 's.action2')} OFFSET 0) AS decided "
            "ORDER BY row_no")


def _decided_rows(ctx: PlanContext, dialect: str, last_column: str) -> str:
    """SQL: each staged row with what the plan does with it (PLAN_COLUMNS), then `last_column`."""
    lookups, joins = _lookups(ctx)
    base, target, attach = _decision(ctx)
    return f"""
WITH looked AS (
    SELECT s.*, {lookups}
    FROM {STAGE} s {joins}
),
decided AS (
    SELECT looked.*, {_mode_filter(ctx, base)} AS action2, {target} AS target_id, {attach} AS attach
    FROM looked
)
SELECT s.row_no, s.match_value, s.address_key, s.merged_rows, s.merged_row_nos, s.target_id, s.attach,
       CASE WHEN s.found_id IS NOT NULL THEN 1 ELSE 0 END AS found,
       s.addr_known, s.in_file_earlier, s.repeated,
       CASE WHEN s.action2 LIKE 'reject:%' THEN 'reject'
            WHEN s.action2 = 'update' AND s.attach = 0 AND {_unchanged(ctx, dialect)} THEN 'unchanged'
            ELSE s.action2 END AS action,
       CASE WHEN s.action2 LIKE 'reject:%' THEN substr(s.action2, 8) END AS reason,
       CASE WHEN s.action2 = 'update' AND {ctx.keeps_status('s', 'cur')} THEN 1 ELSE 0 END AS status_kept,
       {last_column}
FROM decided s LEFT JOIN {ctx.contacts} cur ON cur.id = s.target_id"""


def _lookups(ctx: PlanContext) -> tuple[str, str]:
    """What the account knows of each row's key and address: (select list, joins).

    found_id: the contact found by the match key; found_count: how many (by e-mail in an
    external-ID account); addr_id / addr_link_value: in an email account, the contact that
    holds the row's address and its ID for the link; addr_known: the address exists (in an
    external-ID account asked only for rows whose ID is new);
    in_file_earlier: an earlier row of the file brings the same address.
    """
    c, e = ctx.contacts, ctx.external_ids
    if not ctx.by_external_id:
        if ctx.dedup_mode == "email":
            return (
                "f.id AS found_id, CASE WHEN f.id IS NULL THEN 0 ELSE 1 END AS found_count, "
                "NULL AS addr_id, NULL AS addr_link_value, "
                "CASE WHEN f.id IS NULL THEN 0 ELSE 1 END AS addr_known, 0 AS in_file_earlier, "
                "0 AS repeated",
                f"LEFT JOIN {c} f ON f.account_id = :account AND f.dedup_mode = 'email' "
                "AND f.address_key = s.match_value",
            )
        return (
            "f.id AS found_id, coalesce(f.n, 0) AS found_count, NULL AS addr_id, "
            "NULL AS addr_link_value, CASE WHEN f.id IS NULL THEN 0 ELSE 1 END AS addr_known, "
            "0 AS in_file_earlier, 0 AS repeated",
            f"LEFT JOIN (SELECT k.address_key, count(*) AS n, min(k.id) AS id FROM {c} k "
            f"WHERE k.account_id = :account AND k.address_key IN (SELECT match_value FROM {STAGE}) "
            "GROUP BY k.address_key) f ON f.address_key = s.match_value",
        )
    earlier = (f"LEFT JOIN {REPEATED} r ON r.address_key = s.address_key",
               "CASE WHEN s.row_no > r.first_row THEN 1 ELSE 0 END AS in_file_earlier, "
               "CASE WHEN r.first_row IS NULL THEN 0 ELSE 1 END AS repeated")
    by_id = f"LEFT JOIN {e} x ON x.link_id = :link AND x.value = s.match_value"
    if ctx.dedup_mode == "email":
        return (
            "x.contact_id AS found_id, NULL AS found_count, a.id AS addr_id, "
            "ax.value AS addr_link_value, CASE WHEN a.id IS NULL THEN 0 ELSE 1 END AS addr_known, "
            + earlier[1],
            f"{by_id} LEFT JOIN {c} a ON a.account_id = :account AND a.dedup_mode = 'email' "
            "AND a.address_key = s.address_key "
            f"LEFT JOIN {e} ax ON ax.contact_id = a.id AND ax.link_id = :link AND NOT ax.merged "
            + earlier[0],
        )
    return (
        "x.contact_id AS found_id, NULL AS found_count, NULL AS addr_id, NULL AS addr_link_value, "
        # Only a row with a new ID asks it (a new contact at a known address): a re-import would
        # otherwise probe the addresses of all its rows, a random read each (5 s a million).
        f"CASE WHEN x.contact_id IS NULL AND EXISTS (SELECT 1 FROM {c} k WHERE k.account_id = :account "
        "AND k.address_key = s.address_key) THEN 1 ELSE 0 END AS addr_known, " + earlier[1],
        f"{by_id} {earlier[0]}",
    )


def _decision(ctx: PlanContext) -> tuple[str, str, str]:
    """The matching table of DESIGN.md: (action or 'reject:<reason>', target contact, attach)."""
    if ctx.dedup_mode == "email" and not ctx.by_external_id:
        return ("CASE WHEN found_id IS NULL THEN 'create' ELSE 'update' END", "found_id", "0")
    if ctx.dedup_mode == "email":
        action = """CASE
            WHEN found_id IS NOT NULL THEN
                CASE WHEN addr_id IS NOT NULL AND addr_id <> found_id THEN 'reject:address_conflict'
                     ELSE 'update' END
            WHEN address_key IS NULL THEN 'reject:missing_email'
            WHEN addr_id IS NOT NULL THEN
                CASE WHEN addr_link_value IS NULL THEN 'update' ELSE 'reject:id_conflict' END
            ELSE 'create' END"""
        target = "coalesce(found_id, addr_id)"
        attach = "CASE WHEN found_id IS NULL AND addr_id IS NOT NULL THEN 1 ELSE 0 END"
        return action, target, attach
    if ctx.by_external_id:
        return (
            "CASE WHEN found_id IS NOT NULL THEN 'update' "
            "WHEN address_key IS NULL THEN 'reject:missing_email' ELSE 'create' END",
            "found_id",
            "0",
        )
    return (
        "CASE WHEN found_count = 0 THEN 'create' WHEN found_count = 1 THEN 'update' "
        "ELSE 'reject:ambiguous_address' END",
        "CASE WHEN found_count = 1 THEN found_id END",
        "0",
    )


def _mode_filter(ctx: PlanContext, base: str) -> str:
    """create_only skips rows about existing contacts, update_only skips the others."""
    if ctx.mode == "upsert":
        return base
    if ctx.dedup_mode == "email" and ctx.by_external_id:
        # A row that would attach its ID to the contact at its address is about that contact.
        existing = "(found_id IS NOT NULL OR (addr_id IS NOT NULL AND addr_link_value IS NULL))"
    else:
        existing = "(found_id IS NOT NULL)"
    if ctx.mode == "create_only":
        return f"CASE WHEN {existing} THEN 'skip' ELSE {base} END"
    return f"CASE WHEN NOT {existing} THEN 'skip' ELSE {base} END"


def _objects(ctx: PlanContext, dialect: str, row: str) -> list[str]:
    """The row's field values as JSON objects (NULL for an empty cell), 50 fields to an object."""
    if dialect == "postgresql":
        pairs = [f"CAST(:k_{f.column} AS text), {row}.{f.column}" for f in ctx.fields]
        build = "jsonb_build_object"
    else:
        pairs = [f":k_{f.column}, {_sqlite_json_value(f, row)}" for f in ctx.fields]
        build = "json_object"
    chunks = [pairs[i:i + PAIRS_PER_OBJECT] for i in range(0, len(pairs), PAIRS_PER_OBJECT)] or [[]]
    return [f"{build}({', '.join(chunk)})" for chunk in chunks]


def _sqlite_json_value(field: StagedField, row: str) -> str:
    if field.type == "boolean":  # SQLite stores booleans as 0/1: say true/false in JSON
        return f"CASE {row}.{field.column} WHEN 1 THEN json('true') WHEN 0 THEN json('false') END"
    return f"{row}.{field.column}"


def _patched(document: str, patches: list[str]) -> str:
    """SQLite: apply JSON merge patches in turn (a null in a patch removes the key)."""
    for patch in patches:
        document = f"json_patch({document}, {patch})"
    return document


def new_attributes(ctx: PlanContext, dialect: str, row: str = "s") -> str:
    """The attribute document of a new contact made from staged row `row`."""
    objects = _objects(ctx, dialect, row)
    if dialect == "postgresql":
        return _unless_complete(ctx, row, f"jsonb_strip_nulls({' || '.join(objects)})",
                                " || ".join(objects))
    return _unless_complete(ctx, row, _patched("'{}'", objects), _patched(objects[0], objects[1:]))


def merged_attributes(ctx: PlanContext, dialect: str, current: str, row: str = "s") -> str:
    """The document `current` with staged row `row` applied: values set, and cleared if so set."""
    objects = _objects(ctx, dialect, row)
    if dialect == "postgresql":
        document = " || ".join(objects)
        if ctx.empty_clears:
            return f"jsonb_strip_nulls({current} || {document})"
        return _unless_complete(ctx, row, f"({current} || jsonb_strip_nulls({document}))",
                                f"({current} || {document})")
    if ctx.empty_clears:
        return _patched(current, objects)
    return _unless_complete(ctx, row, _patched(current, [_patched("'{}'", [o]) for o in objects]),
                            _patched(current, objects))


def _unless_complete(ctx: PlanContext, row: str, general: str, complete: str) -> str:
    """`general`, or for a row without empty cells the equal but cheaper `complete`.

    Leaving out the empty cells' nulls costs a second pass over the document (a merge patch, or
    jsonb_strip_nulls): a third of the cost of building it, in the common case for nothing.
    """
    if not ctx.fields:
        return general
    filled = " AND ".join(f"{row}.{f.column} IS NOT NULL" for f in ctx.fields)
    return f"CASE WHEN {filled} THEN {complete} ELSE {general} END"


def _unchanged(ctx: PlanContext, dialect: str) -> str:
    # SQLite compares JSON as text: both sides in json()'s minified form, key order kept.
    current = "cur.attributes" if dialect == "postgresql" else "json(cur.attributes)"
    # A status the import keeps is no change: a row that differs only there is unchanged.
    return (
        "(s.email IS NULL OR s.email = cur.email) "
        f"AND (s.status IS NULL OR s.status = cur.status OR {ctx.keeps_status('s', 'cur')}) "
        f"AND {merged_attributes(ctx, dialect, 'cur.attributes')} = {current}"
    )
