"""Import jobs: check an upload and its settings, run the job to its end, report on it."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from importer.aliases import suggest
from importer.pipeline import ImportResult, Progress, run_import
from importer.reading import (
    DEFAULT_LIMITS,
    FileUnreadable,
    ReadLimits,
    Source,
    inspect_file,
)
from importer.said import message_of, said, with_words, words_of
from importer.settings import AccountInfo, ImportSettings, SettingsError, check_against, parse_settings
from service import limits as service_limits
from service import safe_json, scratch
from service.db import end_reads, own, writing
from service.domain import job_queue, link_memory, uploads
from service.domain.accounts import account_info, fields_of
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


ENDED = (ImportStatus.SUCCEEDED, ImportStatus.FAILED)


class JobCancelled(Exception):
    """The worker is stopping: the import is rolled back and the job handed back to the queue."""


def parse_settings_text(raw: str | None) -> tuple[ImportSettings, dict[str, Any]]:
    """The settings sent as JSON text: checked, and as sent (which the job keeps)."""
    try:
        data = safe_json.loads(raw) if raw else {}
    except safe_json.UnsafeJson as error:
        raise InvalidInput(said("settings cannot be read: %(error)s",
                                error=error), code="invalid_settings") from None
    except ValueError as error:
        raise InvalidInput(said("settings is not valid JSON: %(error)s",
                                error=error), code="invalid_settings") from None
    if not isinstance(data, dict):
        raise InvalidInput(said("settings must be a JSON object"), code="invalid_settings")
    try:
        return parse_settings(data), data
    except SettingsError as error:
        raise InvalidInput(message_of(error), code="invalid_settings") from None


def create_job(session: Session, *, account: Account, settings: ImportSettings, raw_settings: dict,
               source: Source, filename: str, upload_id: int | None = None,
               run_here: str | None = None, lease: timedelta = job_queue.LEASE,
               limits: ReadLimits = DEFAULT_LIMITS) -> ImportJob:
    """Check the file (within `limits`) and the settings, then record a queued job (nothing else is
    written).

    `source` is the file (`upload_id` its stored copy, which a worker reads); `run_here` names
    the process that runs the job itself (the command line), which holds it from the start.
    Without a `mapping`, columns named like the account's fields (or like e-mail) are mapped
    to them, as the wizard suggests; the job keeps the mapping it used.
    """
    try:
        inspection = inspect_file(source, encoding=settings.encoding, delimiter=settings.delimiter,
                                  has_header=settings.has_header, limits=limits)
        info = account_info(session, account)
        if "mapping" not in raw_settings:
            suggested = _suggested_mapping(session, account, settings, inspection.columns)
            settings = replace(settings, mapping=suggested)
            raw_settings = {**raw_settings, "mapping": suggested}
        check_against(settings, info, inspection.columns)
    except FileUnreadable as error:
        raise service_limits.file_refusal(error) from None
    except SettingsError as error:
        raise InvalidInput(message_of(error), code="invalid_settings") from None
    job = ImportJob(account_id=account.id, filename=filename, settings=raw_settings,
                    dry_run=settings.dry_run, columns=inspection.columns, upload_id=upload_id)
    end_reads(session).add(job)
    session.flush()
    if run_here is not None:
        job_queue.claim_here(session.connection(), job.id, run_here, lease)
    session.commit()
    session.refresh(job)
    return job


def _suggested_mapping(session: Session, account: Account, settings: ImportSettings,
                       columns: list[str]) -> dict[str, str]:
    """What the wizard would suggest (importer/aliases.py): by a link, its last import's mapping
    first; the fields by name or label; common fields by the names exports give them."""
    fields: dict[str, str | None] = {f.name: f.label for f in fields_of(session, account.id)}
    fields.update(dict.fromkeys(settings.create_fields))
    previous: dict[str, str] = {}
    if settings.by_external_id:
        previous = link_memory.remembered(session, account.id, settings.match.link or "").mapping
        columns = [column for column in columns if column != settings.match.column]
    return suggest(columns, fields, previous=previous).mapping


def run_job(engine: Engine, job_id: int, *, worker: str, source: Path | None = None,
            scratch_dir: Path | None = None, on_progress: Progress | None = None,
            cancelled: Callable[[], bool] = lambda: False,
            limits: ReadLimits = DEFAULT_LIMITS) -> ImportJob:
    """Run a job `worker` has claimed to its end, reading its file within `limits`; the job records
    success or failure (past a limit: failed, its error naming the limit and its setting).

    Without `source` the job's stored upload is copied to `scratch_dir` for the run (the importer
    reads a file several times, and in a helper process) and released when the job ends. When
    `cancelled()` turns true, the import stops at its next progress report, is rolled back, and the
    job goes back to the queue.
    """
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        account = session.get(Account, job.account_id)
        assert account is not None
        info = with_erasures(session, account_info(session, account))
    job_step(job_id, job.account_id, "started", dry_run=job.dry_run)
    started = time.monotonic()
    settings = parse_settings(job.settings)
    last_write, last_phase = [0.0], [str(ImportPhase.READING)]

    def progress(rows: int, phase: str) -> None:
        if cancelled():
            raise JobCancelled
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
            conn.execute(update(ImportJob).where(col(ImportJob.id) == job_id,
                                                 col(ImportJob.worker) == worker).values(
                rows_done=rows, phase=phase, heartbeat_at=utcnow()))

    def finish(conn: Connection, result: ImportResult) -> None:
        _record_success(conn, job_id, worker, job.account_id, settings, info.links, result)
        uploads.release_in(conn, job.upload_id)

    # Named after this process, so that a worker can remove what a killed one left (service/scratch.py).
    work_folder = scratch.make(str(job_id), scratch_dir) if source is None else None
    try:
        if source is None:
            assert work_folder is not None
            source = _scratch_copy(engine, job, work_folder)
        run_import(engine, info, settings, source, import_id=job_id, progress=progress, finish=finish,
                   limits=limits, erasures_now=erasures_now)
    except JobCancelled:
        job_queue.let_go(engine, worker, job_id)
        log.info("import %s handed back to the queue", job_id)
    except job_queue.LeaseLost as lost:
        log.warning("%s; its import was rolled back here", lost)
    except FileUnreadable as error:
        _record_failure(engine, job_id, worker, service_limits.failure_message(error), job.upload_id)
    except SettingsError as error:
        _record_failure(engine, job_id, worker, message_of(error), job.upload_id)
    except Exception:
        log.exception("import %s failed", job_id)
        _record_failure(engine, job_id, worker, said("the import failed unexpectedly; nothing was imported"),
                        job.upload_id)
    finally:
        if work_folder is not None:
            shutil.rmtree(work_folder, ignore_errors=True)
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


def erasures_now(conn: Connection, account_id: int) -> tuple[frozenset[str], str]:
    """The account's erased-address hashes and their salt (empty without erasures), read in the
    import's own transaction under its lock: an erasure committed while the file was read counts."""
    with Session(bind=conn) as session:
        erased = erased_hashes(session, account_id)
        return erased, erasure_salt(session) if erased else ""


def _scratch_copy(engine: Engine, job: ImportJob, folder: Path) -> Path:
    if job.upload_id is None:
        raise FileUnreadable(said("the uploaded file is no longer stored"))
    return uploads.copy_to(engine, job.upload_id, folder / "upload")


def _record_success(conn: Connection, job_id: int, worker: str, account_id: int, settings: ImportSettings,
                    links: dict, result: ImportResult) -> None:
    """Inside the import's own transaction: the job's report, new fields, the link last used."""
    job_queue.finish_guard(conn, job_id, worker, status=ImportStatus.SUCCEEDED, phase=ImportPhase.DONE,
                           rows_done=result.report["rows"], report=result.report,
                           warnings=[with_words(warning) for warning in result.warnings])
    if settings.dry_run:
        return
    now = utcnow()
    for name, type_ in settings.create_fields.items():
        conn.execute(ContactField.__table__.insert().values(  # type: ignore[attr-defined]
            account_id=account_id, name=name, type=type_, created_at=now))
    if settings.by_external_id:
        conn.execute(update(Account).where(col(Account.id) == account_id).values(
            last_import_link_id=links[settings.match.link].id))


def _record_failure(engine: Engine, job_id: int, worker: str, message: str, upload_id: int | None) -> None:
    with writing(engine).begin() as conn:
        try:
            job_queue.finish_guard(conn, job_id, worker, status=ImportStatus.FAILED,
                                   phase=ImportPhase.DONE, error=message, error_words=words_of(message))
        except job_queue.LeaseLost as lost:
            log.warning("%s; its failure is not recorded", lost)
        else:
            uploads.release_in(conn, upload_id)


def wait_for(engine: Engine, job_id: int, *, poll: float = 0.2) -> ImportJob:
    """Wait until the job has ended (run by any worker, on any instance), watching the database."""
    while True:
        job_queue.requeue_lost(engine)
        with Session(engine) as session:
            job = session.get(ImportJob, job_id)
            assert job is not None
            if job.status in ENDED:
                return job
        time.sleep(poll)


def own_import(session: Session, account_id: int, import_id: int) -> ImportJob:
    """The account's import job; NotFound also for another account's."""
    return own(session, ImportJob, import_id, account_id, "import")


def settle(engine: Engine, job: ImportJob) -> ImportJob:
    """The job as it stands once lost runs are seen to (queued again, or failed after the last try)."""
    if job.status != ImportStatus.RUNNING or not job_queue.requeue_lost(engine):
        return job
    with Session(engine) as session:
        fresh = session.get(ImportJob, job.id)
        assert fresh is not None
        return fresh


def job_public(job: ImportJob, number: int | None = None) -> ImportPublic:
    """The import as the API shows it; `number` is its place among the account's real imports."""
    return ImportPublic(
        id=job.id,
        number=number,
        status=ImportStatus(job.status),
        filename=job.filename,
        dry_run=job.dry_run,
        settings=job.settings,
        progress=ImportProgress(rows_done=job.rows_done, phase=ImportPhase(job.phase)),
        report=None if job.report is None else ImportReport.model_validate(job.report),
        warnings=[ImportWarning.model_validate(warning) for warning in job.warnings or []],
        error=job.error,
        attempts=job.attempts,
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
