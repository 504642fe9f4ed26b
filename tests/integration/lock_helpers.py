"""Waiting, in a PostgreSQL test, until another session waits for a lock this test's connection holds:
the moment to let the race go on in the order the test needs."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, Engine, text


def wait_until_blocked_by(engine: Engine, holder: Connection, what: str, *, within: float = 60.0,
                          worker: threading.Thread | None = None) -> None:
    """Return once some session waits for a lock `holder` holds; fail saying `what` never waited.

    With `worker`, also return when it has ended without waiting (the caller's assertions say why).
    """
    holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    deadline = time.monotonic() + within
    with engine.connect() as watcher:
        while not watcher.execute(text("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE :pid = ANY(pg_blocking_pids(pid))"),
                                  {"pid": holder_pid}).scalar_one():
            if worker is not None and not worker.is_alive():
                return
            assert time.monotonic() < deadline, f"{what} never waited"
            time.sleep(0.02)
            watcher.rollback()
