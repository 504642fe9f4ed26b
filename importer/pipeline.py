"""Running one import: read and check the file, stage it, plan, apply, report.

Only the last step holds the write lock, in one transaction: an import that fails or dies
leaves the account as it was. The file is streamed; memory does not grow with its size.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from importer.apply import PlanCounts, apply_plan, count_plan, rejected_plan_rows
from importer.checking import CheckJob, checked_batches, data_records
from importer.collector import collector_paused
from importer.doubles import (
    DOUBTFUL,
    FIRST,
    LAST,
    Doubles,
    collect_doubtful_addresses,
    find_doubles,
    staged_people,
    stored_people,
)
from importer.guards import import_warnings
from importer.late_erasures import ErasuresNow, reject_erased_since_start
from importer.plan import PLAN, REPEATED, PlanContext, build_plan
from importer.reading import DEFAULT_LIMITS, FileFormat, ReadLimits, inspect_file
from importer.rows import ERASED_DETAIL, Rejection, RowStats, StagedField, staged_fields
from importer.settings import AccountInfo, ImportSettings, check_against
from importer.stage import STAGE, StageTable
from importer.transactions import ATTEMPTS, retryable
from importer.vocabulary import ImportPhase

log = logging.getLogger(__name__)
REJECTED = "import_rejected"
PLAN_REJECTION_DETAILS = {
    "address_conflict": "the address belongs to another contact (in the account or earlier in this file)",
    "id_conflict": "the contact at this address already has another ID for this link",
    "ambiguous_address": "several contacts share this address; import by external ID",
    "missing_email": "a new contact needs an e-mail address",
    "erased_address": ERASED_DETAIL,
}

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class ImportTables:
    """The names of the tables the importer reads and writes."""

    accounts: str = "accounts"
    contacts: str = "contacts"
    external_ids: str = "external_ids"
    rejections: str = "import_rejections"
    status_history: str = "contact_status_history"


@dataclass
class ImportResult:
    report: dict
    warnings: list[dict]
    format: FileFormat | None = None
    columns: list[str] = field(default_factory=list)


Finish = Callable[[Connection, ImportResult], None]


def run_import(
    engine: Engine,
    account: AccountInfo,
    settings: ImportSettings,
    path: str | os.PathLike,
    *,
    import_id: int,
    tables: ImportTables = ImportTables(),
    progress: Progress | None = None,
    finish: Finish | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    erasures_now: ErasuresNow | None = None,
) -> ImportResult:
    """Import `path` into the account, reading no more of it than `limits` allow; `finish` runs
    inside the final transaction.

    `erasures_now` reads the account's erasures again under the import's lock: an address
    erased since the import started is rejected too (importer/late_erasures.py).

    Raises FileUnreadable (LimitExceeded past a limit) or SettingsError before anything is written.
    """
    report_progress = progress or (lambda rows, phase: None)
    inspection = inspect_file(path, encoding=settings.encoding, delimiter=settings.delimiter,
                              has_header=settings.has_header, sample_size=50, limits=limits)
    fmt, columns = inspection.format, inspection.columns
    check_against(settings, account, columns)
    stats = RowStats()
    job = CheckJob(os.fspath(path), fmt, settings, account, columns)
    fields = staged_fields(settings, account)

    with engine.connect() as conn:
        data_rows = _stage_file(conn, job, fields, stats, report_progress)
        report_progress(data_rows, ImportPhase.APPLYING)
        ctx = _plan_context(settings, account, tables, fields, import_id)
        conn.execution_options(sqlite_immediate=True)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with conn.begin():
                    _lock_account(conn, tables, account.id)
                    report, warnings = _plan_and_report(conn, ctx, job, stats, data_rows, tables,
                                                              erasures_now)
                    _apply(conn, ctx, settings, tables, import_id, updates=report["updated"] > 0)
                    result = ImportResult(report, warnings, fmt, columns)
                    if finish is not None:
                        finish(conn, result)
                break
            except DBAPIError as error:
                # A deadlock with a check or an event (PostgreSQL rolled the apply back whole, the
                # staged rows are still there): plan and apply again (importer/transactions.py).
                if not retryable(error) or attempt == ATTEMPTS:
                    raise
                log.warning("import %s: its apply was rolled back to break a deadlock; applying again",
                            import_id)
        _drop_work_tables(conn)
    report_progress(data_rows, ImportPhase.DONE)
    return result


def _drop_work_tables(conn: Connection) -> None:
    """Remove the import's temporary tables from the connection, which goes back to the pool."""
    if conn.dialect.name == "sqlite" and conn.engine.url.database not in (None, "", ":memory:"):
        # SQLite keeps them in the connection's own temporary file: closing the connection removes
        # it at once, where DROP TABLE first walks every page (1.3 s of a million-row import).
        conn.invalidate()
        return
    for table in (STAGE, PLAN, REPEATED, REJECTED, DOUBTFUL):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.commit()


def _stage_file(conn: Connection, job: CheckJob, fields: list[StagedField], stats: RowStats,
                report_progress: Progress) -> int:
    """Check and stage the file's rows, merge repeated keys, commit; return the number of data rows."""
    stage = StageTable(conn, fields)
    stage.create()
    _create_rejected_table(conn)
    report_progress(0, ImportPhase.READING)
    # The loop makes millions of short-lived tuples and no reference cycles: the cyclic
    # garbage collector would only rescan the long-lived caches, again and again.
    with collector_paused():
        data_rows = _stage_rows(job, stats, stage, conn, report_progress)
    # Indexed first: the index finds the repeated keys without sorting the whole file.
    stage.finish_loading()
    stage.merge_repeated_keys()
    conn.commit()
    return data_rows


def _stage_rows(job: CheckJob, stats: RowStats, stage: StageTable, conn: Connection,
                report_progress: Progress) -> int:
    """Stage the checked rows and keep the rejected ones; return the number of data rows."""
    data_rows = 0
    for staged, rejected, rows in checked_batches(job, stats):
        stage.load(staged)
        _store_rejections(conn, rejected)
        data_rows += rows
        report_progress(data_rows, ImportPhase.READING)
    return data_rows


def _plan_context(settings: ImportSettings, account: AccountInfo, tables: ImportTables,
                  fields: list[StagedField], import_id: int) -> PlanContext:
    """Gather what the plan and its application need to know of the account and the settings."""
    return PlanContext(
        contacts=tables.contacts,
        external_ids=tables.external_ids,
        account_id=account.id,
        dedup_mode=account.dedup_mode,
        by_external_id=settings.by_external_id,
        link_id=account.links[settings.match.link].id if settings.by_external_id else None,  # type: ignore[index]
        mode=settings.mode,
        empty_clears=settings.empty_clears,
        fields=tuple(fields),
        status_mapped="status" in settings.mapping.values(),
        status_history=tables.status_history,
        import_id=import_id,
    )


def _lock_account(conn: Connection, tables: ImportTables, account_id: int) -> None:
    """Tune the apply transaction for one large import and take the account's write lock.

    On SQLite the transaction began IMMEDIATE (see run_import), which took the lock already.
    """
    if conn.dialect.name == "postgresql":
        # Joins and sorts of the whole file stay in memory rather than spill to disk.
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        # Each statement runs once: compiling it (JIT, on above a cost) takes longer
        # than it saves.
        conn.exec_driver_sql("SET LOCAL jit = off")
        # One import (or dedup change) per account at a time; others wait here.
        conn.execute(text(f"SELECT id FROM {tables.accounts} WHERE id = :a FOR UPDATE"),
                     {"a": account_id})


def _plan_and_report(conn: Connection, ctx: PlanContext, job: CheckJob, stats: RowStats,
                     data_rows: int, tables: ImportTables, erasures_now: ErasuresNow | None,
                     ) -> tuple[dict, list[dict]]:
    """Plan every staged row, keep the plan's rejections; return the report and the warnings."""
    build_plan(conn, ctx)
    if erasures_now is not None:
        reject_erased_since_start(conn, job.account, erasures_now)
    counts = count_plan(conn)
    _store_plan_rejections(conn, job.path, job.fmt, rejected_plan_rows(conn))
    report = _report(data_rows, counts, conn)
    link_has_ids = bool(ctx.link_id) and conn.execute(
        text(f"SELECT 1 FROM {tables.external_ids} WHERE link_id = :l LIMIT 1"),
        {"l": ctx.link_id},
    ).first() is not None
    known_address_creates = conn.exec_driver_sql(
        f"SELECT count(*) FROM {PLAN} WHERE action = 'create' AND addr_known = 1"
    ).scalar_one()
    warnings = import_warnings(job.settings, job.account, counts, stats.typo_domains, link_has_ids,
                               known_address_creates, stats, _doubles(conn, ctx, job.account, tables))
    return report, warnings


def _doubles(conn: Connection, ctx: PlanContext, account: AccountInfo,
             tables: ImportTables) -> Doubles | None:
    """The pairs possibly one person under two of the link's IDs, among the file's rows and the
    contacts at their addresses (only an import by ID knows the rows' IDs)."""
    if not ctx.by_external_id:
        return None
    if not {FIRST, LAST} <= {f.name for f in ctx.fields}:
        return None  # the file brings no names: no doubtful addresses to collect
    doubtful = collect_doubtful_addresses(conn, PLAN)
    staged = staged_people({f.name: f.column for f in ctx.fields}, STAGE, PLAN, doubtful, conn.dialect.name)
    stored = stored_people(conn.dialect.name, set(account.fields), f"c.address_key IN ({doubtful})",
                           tables.contacts, tables.external_ids)
    if staged is None or stored is None:
        return None
    return find_doubles(conn, [staged, stored], {"account": account.id, "link": ctx.link_id})


def _apply(conn: Connection, ctx: PlanContext, settings: ImportSettings, tables: ImportTables,
           import_id: int, *, updates: bool) -> None:
    """Apply the plan (unless this is a dry run) and keep the rejected rows with the import;
    `updates`: whether the plan counted any contact to update."""
    if not settings.dry_run:
        apply_plan(conn, ctx, datetime.now(UTC), updates=updates)
    conn.execute(
        text(f"INSERT INTO {tables.rejections} (import_id, row, reason, detail, cells) "
             f"SELECT :import_id, row_no, reason, detail, {_json_cast(conn, 'cells')} "
             f"FROM {REJECTED}"),
        {"import_id": import_id},
    )


def _create_rejected_table(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {REJECTED}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {REJECTED} (row_no INTEGER PRIMARY KEY, reason TEXT NOT NULL, "
        "detail TEXT NOT NULL, cells TEXT NOT NULL)"
    )


def _store_rejections(conn: Connection, rejections: list[Rejection]) -> None:
    if rejections:
        conn.execute(
            text(f"INSERT INTO {REJECTED} (row_no, reason, detail, cells) "
                 "VALUES (:row, :reason, :detail, :cells)"),
            [{"row": r.row, "reason": r.reason, "detail": r.detail[:1000],
              "cells": json.dumps(r.cells, ensure_ascii=False)} for r in rejections],
        )


def _store_plan_rejections(conn: Connection, path: str | os.PathLike, fmt: FileFormat,
                           rejected: dict[int, str]) -> None:
    """Read the file again for the cells of rows the plan rejects (rare, so not kept before)."""
    if not rejected:
        return
    found = []
    for row_no, cells in data_records(path, fmt):
        if row_no in rejected:
            reason = rejected[row_no]
            found.append(Rejection(row_no, reason, PLAN_REJECTION_DETAILS[reason], cells))
            if len(found) == len(rejected):
                break
    _store_rejections(conn, found)


def _report(data_rows: int, counts: PlanCounts, conn: Connection) -> dict:
    # Every rejected row, the checker's and the plan's, is in the rejected table by now.
    by_reason: dict[str, int] = dict(conn.exec_driver_sql(
        f"SELECT reason, count(*) FROM {REJECTED} GROUP BY reason"
    ).all())
    return {
        "rows": data_rows,
        "created": counts.created,
        "created_shared_address": counts.created_shared_address,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "skipped": counts.skipped,
        "merged_in_file": counts.merged_in_file,
        "rejected": sum(by_reason.values()),
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "status_kept": counts.status_kept,
    }


def _json_cast(conn: Connection, column: str) -> str:
    return f"CAST({column} AS jsonb)" if conn.dialect.name == "postgresql" else column
