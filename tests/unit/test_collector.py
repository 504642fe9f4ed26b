"""Unit tests for importer.collector: pausing the cyclic garbage collector from several threads."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from collector_threads import WAIT, held_in_another_thread

from importer.collector import collector_paused


@pytest.fixture(autouse=True)
def collecting() -> Iterator[None]:
    """Start each test with the collector on, as a process has it, and leave it on."""
    assert gc.isenabled()
    yield
    gc.enable()


def test_the_collector_stays_off_until_the_last_holder_leaves() -> None:
    # Two overlapping pauses in two threads: the first to leave must not turn the collector on.
    with ExitStack() as a, ExitStack() as b:
        a.enter_context(held_in_another_thread())
        assert not gc.isenabled()
        b.enter_context(held_in_another_thread())
        assert not gc.isenabled()
        a.close()
        assert not gc.isenabled()
        b.close()
        assert gc.isenabled()


def test_the_second_holder_may_leave_first() -> None:
    with ExitStack() as a, ExitStack() as b:
        a.enter_context(held_in_another_thread())
        b.enter_context(held_in_another_thread())
        b.close()
        assert not gc.isenabled()
        a.close()
        assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    with ExitStack() as a, ExitStack() as b:
        a.enter_context(held_in_another_thread())
        b.enter_context(held_in_another_thread())
        a.close()
        b.close()
    assert not gc.isenabled()


def test_pauses_one_after_the_other_each_turn_it_back_on() -> None:
    for _ in range(3):
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()


def test_nested_pauses_in_one_thread() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failing_block_still_leaves_the_pause() -> None:
    with pytest.raises(RuntimeError, match="boom"), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    with held_in_another_thread():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_many_threads_entering_and_leaving_never_see_the_collector_on() -> None:
    seen_on: list[int] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait(WAIT)
        for _ in range(2_000):
            with collector_paused():
                time.sleep(0)  # let the other threads run while this one holds its pause
                if gc.isenabled():
                    seen_on.append(n)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)
    assert not any(thread.is_alive() for thread in threads)
    assert seen_on == []
    assert gc.isenabled()
