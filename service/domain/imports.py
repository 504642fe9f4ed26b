"""Import jobs: check an upload and its settings, run the job to its end, report on it."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from importer.pipeline import ImportResult, Progress, run_import
from importer.reading import FileUnreadable, Inspection, inspect_file, suggest_mapping
from importer.settings import AccountInfo, ImportSettings, SettingsError, check_against, parse_settings
from service import safe_json
from service.db import own
from service.domain.accounts import account_info
from service.domain.erasures import erased_hashes, erasure_salt
from service.errors import InvalidInput
from service.logs import job_step
from service.metrics import count_import
from service.models import (
    Account,
    ContactField,
    ImportJob,
    ImportPhase,
    ImportProgress,
    ImportPublic,
    ImportRejection,
    ImportReport,
    ImportStatus,
    ImportWarning,
    utcnow,
)

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.5  # seconds between progress writes
STALE_AFTER = timedelta(minutes=15)  # a job on another host with no heartbeat for this long died


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def parse_settings_text(raw: str | None) -> tuple[ImportSettings, dict[str, Any]]:
    """The settings sent as JSON text: checked, and as sent (which the job keeps)."""
    try:
        data = safe_json.loads(raw) if raw else {}
    except safe_json.UnsafeJson as error:
        raise InvalidInput(f"settings cannot be read: {error}", code="invalid_settings") from None
    except ValueError as error:
        raise InvalidInput(f"settings is not valid JSON: {error}", code="invalid_settings") from None
    if not isinstance(data, dict):
        raise InvalidInput("settings must be a JSON object", code="invalid_settings")
    try:
        return parse_settings(data), data
    except SettingsError as error:
        raise InvalidInput(str(error), code="invalid_settings") from None


def estimate_rows(path: Path, inspection: Inspection) -> int:
    """Guess the number of rows from the file size and the preview (for the progress bar only)."""
    rows = inspection.sample_rows
    if not rows or inspection.format.compressed:
        return max(len(rows), 1)
    per_row = max(sum(len(inspection.format.delimiter.join(r)) + 1 for r in rows) / len(rows), 1)
    return max(int(path.stat().st_size / per_row), 1)


def create_job(session: Session, *, account: Account, settings: ImportSettings, raw_settings: dict,
               path: Path, filename: str) -> ImportJob:
    """Check the file and the settings, then record a queued job (nothing else is written).

    Without a `mapping`, columns named like the account's fields (or like e-mail) are mapped
    to them, as the wizard suggests; the job keeps the mapping it used.
    """
    try:
        inspection = inspect_file(path, encoding=settings.encoding, delimiter=settings.delimiter,
                                  has_header=settings.has_header)
        info = account_info(session, account)
        if "mapping" not in raw_settings:
            known = ["email", "status", *info.fields, *settings.create_fields]
            suggested = suggest_mapping(inspection.columns, known)
            settings = replace(settings, mapping=suggested)
            raw_settings = {**raw_settings, "mapping": suggested}
        check_against(settings, info, inspection.columns)
    except FileUnreadable as error:
        raise InvalidInput(str(error), code="unreadable_file") from None
    except SettingsError as error:
        raise InvalidInput(str(error), code="invalid_settings") from None
    job = ImportJob(account_id=account.id, filename=filename, settings=raw_settings,
                    dry_run=settings.dry_run, columns=inspection.columns, worker=this_worker())
    session.add(job)
    session.commit()
    return job


def run_job(engine: Engine, job_id: int, path: Path, *, on_progress: Progress | None = None) -> ImportJob:
    """Run a queued job to its end; the job records success or failure, and the file is removed."""
    # It reads, then writes: on SQLite the transaction must take the write lock up front, or a
    # write by another connection in between makes its commit fail (and the job stay queued).
    with Session(engine.execution_options(sqlite_immediate=True), expire_on_commit=False) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        account = session.get(Account, job.account_id)
        assert account is not None
        info = with_erasures(session, account_info(session, account))
        job.status, job.phase, job.started_at = ImportStatus.RUNNING, ImportPhase.READING, utcnow()
        job.heartbeat_at, job.worker = job.started_at, this_worker()
        session.commit()
    job_step(job_id, job.account_id, "started", dry_run=job.dry_run)
    started = time.monotonic()
    settings = parse_settings(job.settings)
    last_write, last_phase = [0.0], [str(ImportPhase.READING)]

    def progress(rows: int, phase: str) -> None:
        if on_progress is not None:
            on_progress(rows, phase)
        if phase != last_phase[0] and phase != ImportPhase.DONE:
            last_phase[0] = phase
            job_step(job_id, job.account_id, phase, rows_done=rows)
        now = time.monotonic()
        if phase == ImportPhase.READING and now - last_write[0] < PROGRESS_INTERVAL:
            return
        last_write[0] = now
        if phase == ImportPhase.DONE:
            return
        with engine.begin() as conn:
            conn.execute(update(ImportJob).where(col(ImportJob.id) == job_id).values(
                rows_done=rows, phase=phase, heartbeat_at=utcnow()))

    def finish(conn: Connection, result: ImportResult) -> None:
        _record_success(conn, job_id, job.account_id, settings, info.links, result)

    try:
        run_import(engine, info, settings, path, import_id=job_id, progress=progress, finish=finish)
    except (FileUnreadable, SettingsError) as error:
        _record_failure(engine, job_id, str(error))
    except Exception:
        log.exception("import %s failed", job_id)
        _record_failure(engine, job_id, "the import failed unexpectedly; nothing was imported")
    finally:
        path.unlink(missing_ok=True)
    with Session(engine) as session:
        finished = session.get(ImportJob, job_id)
        assert finished is not None
    _observe_end(finished, time.monotonic() - started)
    return finished


def _observe_end(job: ImportJob, seconds: float) -> None:
    """Log the job's last step and count it (its rows by outcome) for /metrics."""
    job_step(job.id, job.account_id, job.status, rows_done=job.rows_done, duration_ms=round(seconds * 1000),
             error=job.error)
    count_import(job.status, job.report, dry_run=job.dry_run)


def with_erasures(session: Session, info: AccountInfo) -> AccountInfo:
    """The account's info with its erased addresses' hashes, so that the import rejects them.

    The salt is read only when there are erasures: the common account has none.
    """
    erased = erased_hashes(session, info.id)
    if not erased:
        return info
    return replace(info, erased=erased, erasure_salt=erasure_salt(session))


def _record_success(conn: Connection, job_id: int, account_id: int, settings: ImportSettings,
                    links: dict, result: ImportResult) -> None:
    """Inside the import's own transaction: the job's report, new fields, the link last used."""
    conn.execute(update(ImportJob).where(col(ImportJob.id) == job_id).values(
        status=ImportStatus.SUCCEEDED, phase=ImportPhase.DONE, rows_done=result.report["rows"],
        report=result.report, warnings=result.warnings, finished_at=utcnow(), heartbeat_at=utcnow()))
    if settings.dry_run:
        return
    now = utcnow()
    for name, type_ in settings.create_fields.items():
        conn.execute(ContactField.__table__.insert().values(  # type: ignore[attr-defined]
            account_id=account_id, name=name, type=type_, created_at=now))
    if settings.by_external_id:
        conn.execute(update(Account).where(col(Account.id) == account_id).values(
            last_import_link_id=links[settings.match.link].id))


def _record_failure(engine: Engine, job_id: int, message: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(col(ImportJob.id) == job_id).values(
            status=ImportStatus.FAILED, phase=ImportPhase.DONE, error=message, finished_at=utcnow()))


def own_import(session: Session, account_id: int, import_id: int) -> ImportJob:
    """The account's import job; NotFound also for another account's."""
    return own(session, ImportJob, import_id, account_id, "import")


def settle_if_dead(session: Session, job: ImportJob) -> ImportJob:
    """Mark a queued or running job failed when the process that ran it is gone."""
    if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return job
    host, _, pid = (job.worker or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        dead = not _process_alive(int(pid))
    else:
        last_sign = job.heartbeat_at or job.created_at
        dead = utcnow() - last_sign > STALE_AFTER
    if dead:
        job.status, job.phase, job.finished_at = ImportStatus.FAILED, ImportPhase.DONE, utcnow()
        job.error = "the import was interrupted before it finished; nothing was imported"
        session.add(job)
        session.commit()
    return job


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_public(job: ImportJob) -> ImportPublic:
    return ImportPublic(
        id=job.id,
        status=ImportStatus(job.status),
        filename=job.filename,
        dry_run=job.dry_run,
        settings=job.settings,
        progress=ImportProgress(rows_done=job.rows_done, phase=ImportPhase(job.phase)),
        report=None if job.report is None else ImportReport.model_validate(job.report),
        warnings=[ImportWarning.model_validate(warning) for warning in job.warnings or []],
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def rejected_rows_csv(engine: Engine, job: ImportJob) -> Iterator[list[str]]:
    """Yield the rejected-rows CSV: a header, then each rejected row as read, in file order
    (made safe for spreadsheets where it is written, service/downloads.py).

    It reads in a session of its own, so that it can be streamed after a request has ended.
    """
    yield ["row", "reason", "detail", *(job.columns or [])]
    query = (select(ImportRejection).where(ImportRejection.import_id == job.id)
             .order_by(col(ImportRejection.row)).execution_options(yield_per=2000))
    with Session(engine) as session:
        for rejection in session.exec(query):
            yield [str(rejection.row), rejection.reason, rejection.detail, *rejection.cells]
