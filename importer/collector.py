"""Pausing Python's cyclic garbage collector around work that makes many objects and no cycles.

The collector is process-wide: in a threaded worker (a web server's threads, the import thread
pool) a bare `gc.disable()` ... `gc.enable()` in one thread undoes another thread's pause, or
leaves the collector off for good. `collector_paused()` counts its holders under a lock instead:
the first holder to come turns the collector off, the last to leave turns it back on, and only
if it was on when the first came (a process that turned it off itself keeps it off).

Every pause in the process must go through here; a bare `gc.enable()` elsewhere still undoes it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """The process's one record of who holds the collector paused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.resume = False  # whether the last holder to leave turns the collector back on


_pause = _Pause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off while this block (and any other holder's) runs."""
    with _pause.lock:
        if _pause.holders == 0:
            _pause.resume = gc.isenabled()
            gc.disable()
        _pause.holders += 1
    try:
        yield
    finally:
        with _pause.lock:
            _pause.holders -= 1
            if _pause.holders == 0 and _pause.resume:
                gc.enable()
