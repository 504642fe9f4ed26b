"""A thread that holds the garbage collector paused, for the tests of importer.collector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from importer.collector import collector_paused

WAIT = 10  # seconds: a step that takes longer has hung


@contextmanager
def held_in_another_thread() -> Iterator[None]:
    """Hold `collector_paused()` in a thread of its own from the start to the end of the block."""
    entered, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with collector_paused():
            entered.set()
            leave.wait(WAIT)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert entered.wait(WAIT), "the holding thread did not start"
    try:
        yield
    finally:
        leave.set()
        thread.join(WAIT)
        assert not thread.is_alive(), "the holding thread did not leave"
