"""Carrying out an import plan: new contacts, updated contacts and external IDs, set-based."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import Connection

from importer.plan import PLAN, PlanContext

TIMESTAMP = DateTime(timezone=True)


def apply_plan(conn: Connection, ctx: PlanContext, now: datetime) -> None:
    """Write the plan's creates, updates and ID attachments (inside the import's transaction)."""
    c, e = ctx.contacts, ctx.external_ids
    # SQLite keeps JSON as text: json() stores it in its minified form, the one the plan compares.
    as_json = "{}" if conn.dialect.name == "postgresql" else "json({})"
    created_document, updated_document = as_json.format("new_attributes"), as_json.format("p.new_attributes")
    stamp = bindparam("now", type_=TIMESTAMP)
    conn.execute(
        text(
            f"INSERT INTO {c} (id, account_id, dedup_mode, email, address_key, status, attributes, "
            f"created_at, updated_at) SELECT new_id, :account, :mode, email, address_key, "
            f"coalesce(status, 'active'), {created_document}, :now, :now FROM {PLAN} "
            "WHERE action = 'create' ORDER BY new_id"
        ).bindparams(stamp),
        {"account": ctx.account_id, "mode": ctx.dedup_mode, "now": now},
    )
    conn.execute(
        text(
            f"UPDATE {c} SET email = coalesce(p.email, {c}.email), "
            f"address_key = coalesce(p.address_key, {c}.address_key), "
            f"status = coalesce(p.status, {c}.status), attributes = {updated_document}, updated_at = :now "
            f"FROM {PLAN} p WHERE p.action = 'update' AND {c}.id = p.target_id"
        ).bindparams(stamp),
        {"now": now},
    )
    if ctx.by_external_id:
        conn.execute(
            text(
                f"INSERT INTO {e} (account_id, link_id, contact_id, value, merged) "
                f"SELECT :account, :link, coalesce(new_id, target_id), match_value, FALSE FROM {PLAN} "
                "WHERE action = 'create' OR (action = 'update' AND attach = 1)"
            ),
            {"account": ctx.account_id, "link": ctx.link_id},
        )


@dataclass
class PlanCounts:
    """The plan's outcome per action, as the report counts it."""

    created: int = 0
    created_shared_address: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    merged_in_file: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    # For the guards: how the rows' keys and addresses met the account's contacts.
    staged: int = 0
    found_by_key: int = 0
    unfound_with_known_address: int = 0


def count_plan(conn: Connection) -> PlanCounts:
    counts = PlanCounts()
    rows = conn.exec_driver_sql(
        f"SELECT action, reason, shared, count(*), sum(merged_rows), "
        f"sum(CASE WHEN found_id IS NOT NULL THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN found_id IS NULL AND addr_id IS NOT NULL THEN 1 ELSE 0 END) "
        f"FROM {PLAN} GROUP BY action, reason, shared"
    )
    for action, reason, shared, n, merged, found, unfound_known in rows:
        merged = int(merged or 0)
        counts.staged += n
        counts.found_by_key += int(found or 0)
        counts.unfound_with_known_address += int(unfound_known or 0)
        if action == "reject":
            # Every row of a rejected group is a rejected row.
            counts.rejected_by_reason[reason] = counts.rejected_by_reason.get(reason, 0) + n + merged
            continue
        counts.merged_in_file += merged
        if action == "create":
            counts.created += n
            counts.created_shared_address += n if shared else 0
        elif action == "update":
            counts.updated += n
        elif action == "unchanged":
            counts.unchanged += n
        elif action == "skip":
            counts.skipped += n
    return counts


def rejected_plan_rows(conn: Connection) -> dict[int, str]:
    """Row number -> reason for every file row that the plan rejects (merged rows included)."""
    rejected: dict[int, str] = {}
    for row_no, reason, merged_row_nos in conn.exec_driver_sql(
        f"SELECT row_no, reason, merged_row_nos FROM {PLAN} WHERE action = 'reject'"
    ):
        rejected[row_no] = reason
        for other in json.loads(merged_row_nos or "[]"):
            rejected[other] = reason
    return rejected
