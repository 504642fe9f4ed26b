"""Carrying out an import plan: new contacts, updated contacts and external IDs, set-based."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import Connection

from importer.plan import PLAN, PlanContext, merged_attributes, new_attributes
from importer.stage import STAGE
from importer.vocabulary import ContactStatus, StatusSource

TIMESTAMP = DateTime(timezone=True)


def apply_plan(conn: Connection, ctx: PlanContext, now: datetime, *, updates: bool) -> None:
    """Write the plan's creates, updates and ID attachments (inside the import's transaction);
    `updates` False: the plan counted no update, and the UPDATE of the contacts is not run."""
    dialect = conn.dialect.name
    c, e = ctx.contacts, ctx.external_ids
    params = {**ctx.parameters(), "now": now}
    stamp = bindparam("now", type_=TIMESTAMP)
    conn.execute(
        text(
            f"INSERT INTO {c} (id, account_id, dedup_mode, email, address_key, status, attributes, "
            f"created_at, updated_at) SELECT p.new_id, :account, :mode, s.email, s.address_key, "
            f"coalesce(s.status, 'active'), {new_attributes(ctx, dialect)}, :now, :now "
            f"FROM {PLAN} p JOIN {STAGE} s ON s.row_no = p.row_no WHERE p.action = 'create'"
        ).bindparams(stamp),
        params,
    )
    if ctx.status_mapped:
        _record_status_changes(conn, ctx, params)
    if updates:
        # Not run when it would find nothing (a first load): with nothing to find, PostgreSQL was
        # once seen joining a newly filled contacts table for minutes.
        _update_contacts(conn, ctx, params)
    if ctx.by_external_id:
        conn.execute(
            text(
                f"INSERT INTO {e} (account_id, link_id, contact_id, value, merged) "
                f"SELECT :account, :link, coalesce(p.new_id, p.target_id), p.match_value, FALSE "
                f"FROM {PLAN} p WHERE p.action = 'create' OR (p.action = 'update' AND p.attach = 1)"
            ),
            params,
        )


def _update_contacts(conn: Connection, ctx: PlanContext, params: dict) -> None:
    """Update the stored contacts the plan changes: new values over old, documents merged."""
    c = ctx.contacts
    # An import never re-subscribes, judged on the row as this UPDATE finds it, not on the plan's
    # reading: an event may have opted the contact out since (PostgreSQL: the UPDATE waits for the
    # event's row lock, then sees its status; the plan's status_kept would write `active` over it).
    status = (f"CASE WHEN {ctx.keeps_status('s', c)} THEN {c}.status ELSE coalesce(s.status, {c}.status) END"
              if ctx.status_mapped else f"coalesce(s.status, {c}.status)")
    conn.execute(
        text(
            f"UPDATE {c} SET email = coalesce(s.email, {c}.email), "
            f"address_key = coalesce(s.address_key, {c}.address_key), "
            f"status = {status}, "
            f"attributes = {merged_attributes(ctx, conn.dialect.name, f'{c}.attributes')}, updated_at = :now "
            f"FROM {PLAN} p JOIN {STAGE} s ON s.row_no = p.row_no "
            f"WHERE p.action = 'update' AND {c}.id = p.target_id"
        ).bindparams(bindparam("now", type_=TIMESTAMP)),
        params,
    )


def _record_status_changes(conn: Connection, ctx: PlanContext, params: dict) -> None:
    """Record in the status history what the plan changes (before the contacts are updated).

    A new contact's status counts when it is not `active` (from nothing); a stored contact's
    when the row's status differs and the plan does not keep the stored one. One pass over the plan.
    """
    conn.execute(text(
        f"INSERT INTO {ctx.status_history} (account_id, contact_id, at, status_from, status_to, source, "
        f"source_id) SELECT :account, coalesce(p.new_id, p.target_id), :now, c.status, s.status, :source, "
        f":import_id FROM {PLAN} p JOIN {STAGE} s ON s.row_no = p.row_no "
        f"LEFT JOIN {ctx.contacts} c ON p.action = 'update' AND c.id = p.target_id "
        f"WHERE s.status IS NOT NULL AND ((p.action = 'create' AND s.status <> '{ContactStatus.ACTIVE}') "
        "OR (p.action = 'update' AND p.status_kept = 0 AND s.status <> c.status)) "
        "ORDER BY p.row_no"  # in file order: the few changes, sorted after the filter
    ).bindparams(bindparam("now", type_=TIMESTAMP)),
        {**params, "source": str(StatusSource.IMPORT), "import_id": ctx.import_id})


@dataclass
class PlanCounts:
    """The plan's outcome per action, as the report counts it."""

    created: int = 0
    created_shared_address: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    merged_in_file: int = 0
    status_kept: int = 0  # of updated + unchanged: rows whose stored status the import keeps
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    # For the guards: how the rows' keys and addresses met the account's contacts.
    staged: int = 0
    found_by_key: int = 0
    unfound_with_known_address: int = 0


def count_plan(conn: Connection) -> PlanCounts:
    """Count the plan's outcomes (one pass with conditional sums: no sort of the whole plan)."""
    totals = conn.exec_driver_sql(
        "SELECT count(*), "
        "sum(CASE WHEN action = 'create' THEN 1 ELSE 0 END), "
        # A new contact shares its address when the account or an earlier row of the file has it.
        "sum(CASE WHEN action = 'create' AND (addr_known = 1 OR in_file_earlier = 1) THEN 1 ELSE 0 END), "
        "sum(CASE WHEN action = 'update' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN action = 'unchanged' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN action = 'skip' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN action <> 'reject' THEN merged_rows ELSE 0 END), "
        "sum(found), sum(CASE WHEN found = 0 AND addr_known = 1 THEN 1 ELSE 0 END), "
        "sum(CASE WHEN action IN ('update', 'unchanged') THEN status_kept ELSE 0 END) "
        f"FROM {PLAN}"
    ).one()
    staged, created, shared, updated, unchanged, skipped, merged, found, unfound_known, kept = (
        int(value or 0) for value in totals
    )
    # Every row of a rejected group is a rejected row.
    rejected = conn.exec_driver_sql(
        f"SELECT reason, count(*) + sum(merged_rows) FROM {PLAN} WHERE action = 'reject' GROUP BY reason"
    )
    return PlanCounts(
        created=created,
        created_shared_address=shared,
        updated=updated,
        unchanged=unchanged,
        skipped=skipped,
        merged_in_file=merged,
        status_kept=kept,
        rejected_by_reason={reason: int(n) for reason, n in rejected},
        staged=staged,
        found_by_key=found,
        unfound_with_known_address=unfound_known,
    )


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
