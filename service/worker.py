"""A job worker: threads of this process that take queued imports and run them under a lease.

`safeguard worker` runs one alone; `safeguard serve` runs one in each of its HTTP processes, unless
`--no-worker`. `stop` is the graceful end (SIGTERM): no new job is taken, running imports stop at
their next progress report and are rolled back and handed back to the queue, and whatever has not
let go when the grace period ends is handed back anyway (its transaction dies with the process, and
the lease check keeps it from committing meanwhile). See service/domain/job_queue.py.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from importer.reading import DEFAULT_LIMITS, ReadLimits
from service import scratch
from service.domain import field_indexes, imports, job_queue, uploads

log = logging.getLogger(__name__)
SWEEP_EVERY = 60.0  # seconds between sweeps for what dead processes left
KEEP_EVERY = 60.0  # seconds between looks at the field indexes (segments changed on other hosts)
SETTLE_SECONDS = 1.0  # after a segment changed here, before the field indexes are looked at
STOP_WAIT_SECONDS = 5.0  # how long stopping waits for a field index being built
RETRY_FAILED_AFTER = 3600.0  # seconds before a field index whose build failed is tried again


class Heartbeat:
    """A thread that renews `worker`'s leases every third of the lease (and sees to lost jobs and
    left-over uploads) until it is stopped."""

    def __init__(self, engine: Engine, worker: str, lease: timedelta, *, janitor: bool = False,
                 scratch_dir: Path | None = None) -> None:
        self._engine, self._worker, self._lease, self._janitor = engine, worker, lease, janitor
        self._scratch_dir = scratch_dir
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopped.wait(self._lease.total_seconds() / 3):
            try:
                job_queue.renew(self._engine, self._worker, self._lease)
                if self._janitor:
                    job_queue.requeue_lost(self._engine)
                    if time.monotonic() >= next_sweep:
                        uploads.sweep(self._engine)
                        scratch.sweep(self._scratch_dir)
                        next_sweep = time.monotonic() + SWEEP_EVERY
            except SQLAlchemyError as error:  # the database busy or away: the next beat tries again
                log.warning("lease renewal failed: %s", error)


class IndexKeeper:
    """A thread that keeps the field indexes in step with the saved segments
    (service/domain/field_indexes.py): soon after `wake` (a segment changed here), and every
    KEEP_EVERY seconds for changes made elsewhere."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stopped, self._wake = threading.Event(), threading.Event()
        self._failed: dict[str, float] = {}  # index name -> when its build failed
        self._thread = threading.Thread(target=self._run, name="field-indexes", daemon=True)

    def start(self) -> IndexKeeper:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        # A build under way is not waited for past a moment: a half-built index is removed and
        # made again by the next round, wherever it runs.
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_SECONDS)

    def _run(self) -> None:
        while not self._stopped.is_set():
            now = time.monotonic()
            avoid = frozenset(name for name, at in self._failed.items() if now - at < RETRY_FAILED_AFTER)
            try:
                done = field_indexes.reconcile(self._engine, avoid=avoid)
            except SQLAlchemyError as error:  # the database busy or away: the next round tries again
                log.warning("could not keep the field indexes: %s", error)
            else:
                self._failed.update(dict.fromkeys(done.failed, now))
                if done.built or done.dropped:
                    log.info("field indexes built %s, dropped %s", done.built, done.dropped)
            self._wake.wait(KEEP_EVERY)
            # A burst of segment changes is one round; and the request that woke us commits first.
            if self._wake.is_set() and not self._stopped.wait(SETTLE_SECONDS):
                self._wake.clear()


class Worker:
    """Runs queued imports in `concurrency` threads, each taking the next job when it is free."""

    def __init__(self, engine: Engine, *, concurrency: int = 1, lease: timedelta = job_queue.LEASE,
                 poll_seconds: float = 1.0, scratch_dir: str | Path | None = None,
                 limits: ReadLimits = DEFAULT_LIMITS, field_indexes: bool = False) -> None:
        self.engine, self.concurrency, self.lease = engine, max(concurrency, 1), lease
        self._index_keeper = IndexKeeper(engine) if field_indexes else None
        self.limits = limits  # how much of a file its imports read
        self.poll_seconds = poll_seconds
        self.scratch_dir = Path(scratch_dir) if scratch_dir else None
        self.name = job_queue.worker_name()
        self._stopping, self._wake = threading.Event(), threading.Event()
        self._stop_by: float | None = None  # when the grace period ends, once asked to stop
        self._threads: list[threading.Thread] = []
        self._heartbeat: Heartbeat | None = None

    def start(self) -> Worker:
        """Start taking jobs in the background (idempotent)."""
        if self._threads:
            return self
        if self.scratch_dir:
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
            scratch.sweep(self.scratch_dir)  # the copies a killed worker on this host left
        # A process started again after a crash (or a fork) has a new name; the janitor frees the
        # jobs of the old one.
        self.name = job_queue.worker_name()
        self._heartbeat = Heartbeat(self.engine, self.name, self.lease, janitor=True,
                                    scratch_dir=self.scratch_dir).__enter__()
        try:
            job_queue.requeue_lost(self.engine)
        except SQLAlchemyError as error:
            log.warning("could not look for lost jobs: %s", error)
        if self._index_keeper is not None:
            self._index_keeper.start()
        self._threads = [threading.Thread(target=self._loop, name=f"import-worker-{n}", daemon=True)
                         for n in range(self.concurrency)]
        for thread in self._threads:
            thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job_id = job_queue.claim(self.engine, self.name, self.lease)
            except SQLAlchemyError as error:
                log.warning("could not take a job: %s", error)
                job_id = None
            if job_id is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            log.info("import %s taken by %s", job_id, self.name)
            try:
                imports.run_job(self.engine, job_id, worker=self.name, scratch_dir=self.scratch_dir,
                                cancelled=self._stopping.is_set, limits=self.limits)
            except Exception:  # noqa: BLE001 (the database went away mid-job: its lease runs out, it is retried)
                log.exception("import %s could not be run here", job_id)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wake(self) -> None:
        """Look for a job now (this process just queued one)."""
        self._wake.set()

    def segments_changed(self) -> None:
        """A segment was saved, changed or removed here: see to the field indexes soon."""
        if self._index_keeper is not None:
            self._index_keeper.wake()

    def request_stop(self, grace_seconds: float) -> None:
        """Take no more jobs, and tell the running ones to let go; safe in a signal handler."""
        if self._stop_by is None:
            self._stop_by = time.monotonic() + grace_seconds
        self._stopping.set()
        self._wake.set()

    def stop(self, grace_seconds: float) -> None:
        """Take no more jobs; let running ones go within the grace period (counted from the first
        request to stop), then hand back the rest."""
        self.request_stop(grace_seconds)
        deadline = self._stop_by or time.monotonic()
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._index_keeper is not None:
            self._index_keeper.stop()
        if any(thread.is_alive() for thread in self._threads):
            try:
                handed = job_queue.let_go(self.engine, self.name)
            except SQLAlchemyError as error:
                log.warning("could not hand the running jobs back: %s", error)
            else:
                log.warning("%s import(s) still running after %ss handed back", handed, grace_seconds)

    def wait(self) -> None:
        """Block until the worker has stopped (its threads ended)."""
        while any(thread.is_alive() for thread in self._threads):
            for thread in self._threads:
                thread.join(0.5)


def run_or_wait(worker: Worker, job_id: int) -> imports.ImportJob:
    """Run the queued job in this thread if no worker has taken it yet, else wait until it ends
    (`?wait=true`: the answer comes when the job is done, wherever it ran)."""
    if not worker.stopping and job_queue.claim(worker.engine, worker.name, worker.lease, job_id) is not None:
        with Heartbeat(worker.engine, worker.name, worker.lease):
            job = imports.run_job(worker.engine, job_id, worker=worker.name, scratch_dir=worker.scratch_dir,
                                  cancelled=lambda: worker.stopping, limits=worker.limits)
        if job.status in imports.ENDED:
            return job
    return imports.wait_for(worker.engine, job_id)
