"""Classifying staged rows against the account's contacts, in one set-based statement.

The result is the import plan: per staged row its action (create, update, unchanged, skip or
reject), the contact it targets, its new attribute document and, for creates, the id it gets.
The rules are DESIGN.md's matching table; the SQL below is that table, one CASE per account mode
and match key. Rows of one file that would claim one address are settled by file order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from importer.rows import StagedField
from importer.stage import STAGE

PLAN = "import_plan"
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


def build_plan(conn: Connection, ctx: PlanContext) -> None:
    """Create the plan table from the staging table (inside the import's transaction)."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {PLAN}")
    params: dict = {"account": ctx.account_id, "link": ctx.link_id}
    params.update({f"k_{f.column}": f.name for f in ctx.fields})
    if conn.dialect.name == "sqlite":
        params["id_base"] = conn.execute(
            text(f"SELECT coalesce(max(id), 0) FROM {ctx.contacts}")
        ).scalar_one()
    conn.execute(text(_plan_sql(ctx, conn.dialect.name)), params)
    conn.exec_driver_sql(f"ANALYZE {PLAN}")


def _plan_sql(ctx: PlanContext, dialect: str) -> str:
    c, e = ctx.contacts, ctx.external_ids
    field_columns = "".join(f", s.{f.column}" for f in ctx.fields)
    if ctx.by_external_id:
        lookups = (
            f"(SELECT x.contact_id FROM {e} x WHERE x.link_id = :link AND x.value = s.match_value)"
            " AS found_id, NULL AS found_count"
        )
    else:
        lookups = (
            f"(SELECT min(k.id) FROM {c} k WHERE k.account_id = :account "
            "AND k.address_key = s.match_value) AS found_id, "
            f"(SELECT count(*) FROM {c} k WHERE k.account_id = :account "
            "AND k.address_key = s.match_value) AS found_count"
        )
    if ctx.by_external_id:
        # The contact that holds the row's address already (for email accounts: at most one).
        lookups += (
            f", (SELECT min(k.id) FROM {c} k WHERE k.account_id = :account "
            "AND k.address_key = s.address_key) AS addr_id"
        )
    else:
        lookups += ", NULL AS addr_id"
    base, target, attach = _decision(ctx)
    existing = _existing(ctx)
    return f"""
CREATE TEMP TABLE {PLAN} AS
WITH looked AS (
    SELECT s.row_no, s.match_value, s.email, s.address_key, s.status, s.merged_rows,
           s.merged_row_nos{field_columns}, {lookups}
    FROM {STAGE} s
),
decided AS (
    SELECT looked.*, {base} AS base_action, {target} AS target_id, {attach} AS attach,
           {existing} AS existing
    FROM looked
),
filtered AS (
    SELECT decided.*, {_mode_filter(ctx)} AS action1
    FROM decided
),
ranked AS (
    SELECT filtered.*,
           row_number() OVER (
               PARTITION BY CASE WHEN action1 IN ('create', 'update') THEN address_key END
               ORDER BY row_no) AS address_rank
    FROM filtered
),
settled AS (
    SELECT ranked.*, {_settle(ctx)} AS action2
    FROM ranked
)
SELECT settled.row_no, settled.match_value, settled.email, settled.address_key, settled.status,
       settled.merged_rows, settled.merged_row_nos, settled.target_id, settled.attach,
       settled.found_id, settled.addr_id,
       CASE WHEN settled.action2 LIKE 'reject:%' THEN 'reject'
            WHEN settled.action2 = 'update' AND settled.attach = 0 AND {_unchanged(ctx, dialect)}
                 THEN 'unchanged'
            ELSE settled.action2 END AS action,
       CASE WHEN settled.action2 LIKE 'reject:%' THEN substr(settled.action2, 8) END AS reason,
       CASE WHEN settled.action2 = 'create' AND (settled.addr_id IS NOT NULL OR settled.address_rank > 1)
            THEN 1 ELSE 0 END AS shared,
       CASE WHEN settled.action2 = 'create' THEN {_new_attributes(ctx, dialect)}
            WHEN settled.action2 = 'update' THEN {_merged_attributes(ctx, dialect)} END
            AS new_attributes,
       {_new_id(ctx, dialect)} AS new_id
FROM settled LEFT JOIN {c} cur ON cur.id = settled.target_id
{"ORDER BY settled.row_no" if dialect == "postgresql" else ""}
"""


def _decision(ctx: PlanContext) -> tuple[str, str, str]:
    """The matching table of DESIGN.md: (action or 'reject:<reason>', target contact, attach)."""
    if ctx.dedup_mode == "email" and not ctx.by_external_id:
        return ("CASE WHEN found_id IS NULL THEN 'create' ELSE 'update' END", "found_id", "0")
    if ctx.dedup_mode == "email":
        link_value = (
            f"(SELECT x.value FROM {ctx.external_ids} x WHERE x.contact_id = addr_id "
            "AND x.link_id = :link AND NOT x.merged)"
        )
        action = f"""CASE
            WHEN found_id IS NOT NULL THEN
                CASE WHEN addr_id IS NOT NULL AND addr_id <> found_id THEN 'reject:address_conflict'
                     ELSE 'update' END
            WHEN address_key IS NULL THEN 'reject:missing_email'
            WHEN addr_id IS NOT NULL THEN
                CASE WHEN {link_value} IS NULL THEN 'update' ELSE 'reject:id_conflict' END
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


def _existing(ctx: PlanContext) -> str:
    """Whether the row is about a contact that exists (create_only skips those)."""
    if ctx.dedup_mode == "email" and ctx.by_external_id:
        return (
            "CASE WHEN found_id IS NOT NULL THEN 1 WHEN addr_id IS NOT NULL AND "
            f"(SELECT x.value FROM {ctx.external_ids} x WHERE x.contact_id = addr_id "
            "AND x.link_id = :link AND NOT x.merged) IS NULL THEN 1 ELSE 0 END"
        )
    return "CASE WHEN found_id IS NOT NULL THEN 1 ELSE 0 END"


def _settle(ctx: PlanContext) -> str:
    """In an email account, a later row of the file may not claim an address an earlier one took."""
    if ctx.dedup_mode == "email" and ctx.by_external_id:
        return (
            "CASE WHEN action1 IN ('create', 'update') AND address_key IS NOT NULL AND address_rank > 1 "
            "THEN CASE WHEN found_id IS NOT NULL THEN 'reject:address_conflict' "
            "ELSE 'reject:id_conflict' END ELSE action1 END"
        )
    return "action1"


def _objects(ctx: PlanContext, dialect: str) -> list[str]:
    """The row's field values as JSON objects (NULL for an empty cell), 50 fields to an object."""
    if dialect == "postgresql":
        pairs = [f"CAST(:k_{f.column} AS text), settled.{f.column}" for f in ctx.fields]
        build = "jsonb_build_object"
    else:
        pairs = [f":k_{f.column}, {_sqlite_json_value(f)}" for f in ctx.fields]
        build = "json_object"
    chunks = [pairs[i:i + PAIRS_PER_OBJECT] for i in range(0, len(pairs), PAIRS_PER_OBJECT)] or [[]]
    return [f"{build}({', '.join(chunk)})" for chunk in chunks]


def _sqlite_json_value(field: StagedField) -> str:
    if field.type == "boolean":
        return (f"CASE settled.{field.column} WHEN 1 THEN json('true') "
                f"WHEN 0 THEN json('false') END")
    return f"settled.{field.column}"


def _patched(document: str, patches: list[str]) -> str:
    """SQLite: apply JSON merge patches in turn (a null in a patch removes the key)."""
    for patch in patches:
        document = f"json_patch({document}, {patch})"
    return document


def _new_attributes(ctx: PlanContext, dialect: str) -> str:
    objects = _objects(ctx, dialect)
    if dialect == "postgresql":
        return f"jsonb_strip_nulls({' || '.join(objects)})"
    return _patched("'{}'", objects)


def _merged_attributes(ctx: PlanContext, dialect: str) -> str:
    """The contact's document with the row applied: values set, and cleared if so configured."""
    objects = _objects(ctx, dialect)
    if dialect == "postgresql":
        document = " || ".join(objects)
        if ctx.empty_clears:
            return f"jsonb_strip_nulls(cur.attributes || {document})"
        return f"(cur.attributes || jsonb_strip_nulls({document}))"
    if ctx.empty_clears:
        return _patched("cur.attributes", objects)
    return _patched("cur.attributes", [_patched("'{}'", [o]) for o in objects])


def _unchanged(ctx: PlanContext, dialect: str) -> str:
    current = "cur.attributes" if dialect == "postgresql" else "json(cur.attributes)"
    return (
        "(settled.email IS NULL OR settled.email = cur.email) "
        "AND (settled.status IS NULL OR settled.status = cur.status) "
        f"AND {_merged_attributes(ctx, dialect)} = {current}"
    )


def _new_id(ctx: PlanContext, dialect: str) -> str:
    """Ids for new contacts, given out now so that external IDs can point at them."""
    if dialect == "postgresql":
        # With ORDER BY, PostgreSQL calls nextval() after sorting: ids follow the file's order.
        return (f"CASE WHEN settled.action2 = 'create' THEN "
                f"nextval(pg_get_serial_sequence('{ctx.contacts}', 'id')) END")
    # Under SQLite's write lock, max(id) + running count is free and matches rowid order.
    return (
        "CASE WHEN settled.action2 = 'create' THEN :id_base + "
        "sum(CASE WHEN settled.action2 = 'create' THEN 1 ELSE 0 END) "
        "OVER (ORDER BY settled.row_no ROWS UNBOUNDED PRECEDING) END"
    )


def _mode_filter(ctx: PlanContext) -> str:
    """create_only skips rows about existing contacts, update_only skips the others."""
    if ctx.mode == "create_only":
        return "CASE WHEN existing = 1 THEN 'skip' ELSE base_action END"
    if ctx.mode == "update_only":
        return "CASE WHEN existing = 0 THEN 'skip' ELSE base_action END"
    return "base_action"
