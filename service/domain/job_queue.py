"""The import queue: jobs wait in the `imports` table, and a worker takes one under a lease.

Why no queue library: the ones that serve Python (Celery, RQ, Dramatiq, arq, procrastinate) need a
broker (Redis, RabbitMQ) or PostgreSQL alone; none serves the embedded SQLite default too, and the
job's row, its upload and its result live in the database already. So the database's own row locks do
it, as the PostgreSQL queues of other ecosystems (good_job, Oban, graphile-worker) do:

- `claim` takes the oldest queued job in one short transaction: on PostgreSQL `FOR UPDATE SKIP LOCKED`
  lets any number of workers claim at once without taking the same job; on SQLite the transaction
  takes the write lock at BEGIN, so claims simply take turns.
- A claimed job is `running` with `worker` and `lease_until`; the worker renews the lease while it
  runs (`renew`). A job whose lease ran out (its worker was killed, or its host lost), or whose worker
  on this host is no longer alive, is queued again by `requeue_lost`, at most MAX_ATTEMPTS runs in
  all; then it is failed, saying why. An import is one transaction, so a retry is safe.
- Only the lease holder may finish a job (`finish_guard`, inside the import's own transaction): a
  worker that lost its lease rolls its import back instead of counting the rows a second time.
- `let_go` hands a running job back (SIGTERM, a deploy): queued again, the run not counted.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from importer.said import said, words_of
from service.db import is_sqlite, writing
from service.domain import uploads
from service.metrics import count_job_retried
from service.models import ImportJob, ImportPhase, ImportStatus, utcnow

MAX_ATTEMPTS = 3
LEASE = timedelta(seconds=30)  # the default; SAFEGUARD_LEASE_SECONDS
JOBS = ImportJob.__table__  # type: ignore[attr-defined]
INTERRUPTED = said("the import was interrupted before it finished; nothing was imported")


class LeaseLost(Exception):
    """This worker no longer holds the job's lease: another one runs it now."""


def worker_name() -> str:
    """This process, as a job's `worker` names it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"



def claim(engine: Engine, worker: str, lease: timedelta, job_id: int | None = None) -> int | None:
    """Take the oldest queued job (or the job `job_id`, if it is queued) for `worker`; its id, or None."""
    query = select(JOBS.c.id).where(JOBS.c.status == ImportStatus.QUEUED)
    if job_id is not None:
        query = query.where(JOBS.c.id == job_id)
    query = query.order_by(JOBS.c.id).limit(1)
    # A read first, without the write lock: on SQLite an idle worker must not queue behind the checks.
    with engine.connect() as conn:
        if conn.execute(query).scalar() is None:
            return None
    if not is_sqlite(engine):
        query = query.with_for_update(skip_locked=True)
    with writing(engine).begin() as conn:
        found = conn.execute(query).scalar()
        if found is None:
            return None
        now = utcnow()
        conn.execute(update(JOBS).where(JOBS.c.id == found).values(
            status=ImportStatus.RUNNING, phase=ImportPhase.READING, worker=worker,
            attempts=JOBS.c.attempts + 1, lease_until=now + lease, heartbeat_at=now, started_at=now))
    return int(found)


def claim_here(conn: Connection, job_id: int, worker: str, lease: timedelta) -> None:
    """Mark a job just made as running here (a command-line import runs where its file is)."""
    now = utcnow()
    conn.execute(update(JOBS).where(JOBS.c.id == job_id).values(
        status=ImportStatus.RUNNING, phase=ImportPhase.READING, worker=worker, attempts=1,
        lease_until=now + lease, heartbeat_at=now, started_at=now))


def renew(engine: Engine, worker: str, lease: timedelta) -> int:
    """Extend the leases of every job `worker` runs; the number renewed."""
    with writing(engine).begin() as conn:
        result = conn.execute(update(JOBS).where(
            JOBS.c.worker == worker, JOBS.c.status == ImportStatus.RUNNING).values(
            lease_until=utcnow() + lease))
    return int(result.rowcount)


def finish_guard(conn: Connection, job_id: int, worker: str, **values: object) -> None:
    """Record the job's end, inside its own transaction, if `worker` still holds it; else LeaseLost."""
    result = conn.execute(update(JOBS).where(
        JOBS.c.id == job_id, JOBS.c.worker == worker, JOBS.c.status == ImportStatus.RUNNING).values(
        **values, lease_until=None, finished_at=utcnow(), heartbeat_at=utcnow()))
    if result.rowcount != 1:
        raise LeaseLost(f"import {job_id} is no longer held by {worker}")


def let_go(engine: Engine, worker: str, job_id: int | None = None) -> int:
    """Hand `worker`'s running job (or all of them) back to the queue, the run not counted."""
    query = update(JOBS).where(JOBS.c.worker == worker, JOBS.c.status == ImportStatus.RUNNING)
    if job_id is not None:
        query = query.where(JOBS.c.id == job_id)
    with writing(engine).begin() as conn:
        result = conn.execute(query.values(
            status=ImportStatus.QUEUED, phase=ImportPhase.QUEUED, worker=None, lease_until=None,
            rows_done=0, attempts=JOBS.c.attempts - 1))
    return int(result.rowcount)


def requeue_lost(engine: Engine) -> int:
    """Queue again (or fail, after MAX_ATTEMPTS, or when its file is not stored) every running job
    whose lease ran out or whose worker on this host died; the number of jobs changed."""
    now = utcnow()
    running = select(JOBS.c.id, JOBS.c.worker, JOBS.c.lease_until).where(
        JOBS.c.status == ImportStatus.RUNNING)
    with engine.connect() as conn:
        lost = [row.id for row in conn.execute(running) if _is_lost(row.worker, row.lease_until, now)]
    if not lost:
        return 0
    changed = 0
    with writing(engine).begin() as conn:
        for row in conn.execute(running.add_columns(JOBS.c.attempts, JOBS.c.upload_id).where(
                JOBS.c.id.in_(lost))):
            if not _is_lost(row.worker, row.lease_until, utcnow()):
                continue  # renewed meanwhile
            same = update(JOBS).where(JOBS.c.id == row.id, JOBS.c.worker == row.worker,
                                      JOBS.c.status == ImportStatus.RUNNING)
            if row.upload_id is None or row.attempts >= MAX_ATTEMPTS:
                error = INTERRUPTED if row.upload_id is None else (
                    said("the import was interrupted %(times)s times (its worker stopped: killed, or its "
                         "host lost) and is not tried again; nothing was imported", times=row.attempts))
                conn.execute(same.values(status=ImportStatus.FAILED, phase=ImportPhase.DONE, error=error,
                                         error_words=words_of(error),
                                         lease_until=None, finished_at=utcnow()))
                uploads.release_in(conn, row.upload_id)
            else:
                conn.execute(same.values(status=ImportStatus.QUEUED, phase=ImportPhase.QUEUED,
                                         worker=None, lease_until=None, rows_done=0))
                count_job_retried()
            changed += 1
    return changed


def _is_lost(worker: str | None, lease_until: datetime | None, now: datetime) -> bool:
    if lease_until is None or _aware(lease_until) < now:
        return True
    host, _, pid = (worker or "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes (stored in UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def process_alive(pid: int) -> bool:
    """Whether process `pid` of this host is alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
