"""A timeline of one import: what each process does when, batch by batch, and each statement's time.

`benchmarks/import_once.py --timeline` installs these probes before it calls `run_import`. They wrap
the importer's own functions from outside (no hook in importer/): in the importing process the
frame reader (waiting for a batch), the batch checker, the staging `executemany` and the stored
rejections, and every SQL statement; in the row checker (started through this module, so that it
installs the same probes) the reading of a batch from the file, its check and its hand-over (marshal
and the queue, which blocks while the importer is behind). Stamps are CLOCK_MONOTONIC (the same
clock in both processes); the worker appends its events to a file named by IMPORT_TIMELINE.

`render` draws one line per process, one character per time step: the activity that took most of
that step (P parse, C check, H hand over, W wait for a batch, S stage, R rejections, A apply
statements, . other), then per process the seconds per activity and per statement.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

EVENTS_ENV = "IMPORT_TIMELINE"
LETTERS = {"parse": "P", "check": "C", "hand_over": "H", "wait": "W", "stage": "S",
           "rejections": "R", "apply": "A"}
_events: list[tuple[str, str, float, float]] = []  # (process, activity, start, end)


def _note(process: str, activity: str, start: float) -> None:
    _events.append((process, activity, start, time.monotonic()))


def _timed(process: str, activity: str, function: Callable) -> Callable:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            _note(process, activity, start)
    return timed


def _timed_batches(process: str) -> Callable[[Iterable, int], Iterator[list]]:
    from importer import checking

    plain = checking.batched

    def batched(rows: Iterable, size: int) -> Iterator[list]:
        batches = iter(plain(rows, size))
        while True:
            start = time.monotonic()
            try:
                batch = next(batches)
            except StopIteration:
                return
            _note(process, "parse", start)
            yield batch
    return batched


def _probe_checker(process: str) -> None:
    from importer import checking

    make = checking._batch_checker

    def batch_checker(job: Any, stats: Any) -> Callable:
        return _timed(process, "check", make(job, stats))
    checking._batch_checker = batch_checker  # type: ignore[assignment]


def install_importer(sql_engine: Any) -> None:
    """Probe the importing process (and make it start its row checker through `worker_main`)."""
    import subprocess

    from sqlalchemy import event

    from importer import checking, frames, pipeline, stage

    _probe_checker("importer")
    frames.FrameReader.receive = _timed("importer", "wait", frames.FrameReader.receive)  # type: ignore[method-assign]
    stage.StageTable.load = _timed("importer", "stage", stage.StageTable.load)  # type: ignore[method-assign]
    pipeline._store_rejections = _timed("importer", "rejections", pipeline._store_rejections)  # type: ignore[assignment]
    path = Path(os.environ.setdefault(EVENTS_ENV, f"/tmp/import-timeline-{os.getpid()}.jsonl"))
    path.unlink(missing_ok=True)
    here = str(Path(__file__).resolve().parent)
    plain_popen = subprocess.Popen

    def popen(args: list[str], **kwargs: Any) -> Any:
        if args[1:2] == ["-c"] and "serve_checks" in args[2]:
            args = [args[0], "-c", f"import sys; sys.path.insert(0, {here!r}); "
                    "import timeline; timeline.worker_main()"]
        return plain_popen(args, **kwargs)
    checking.subprocess = type("subprocess", (), {"Popen": staticmethod(popen),  # type: ignore[assignment]
                                                  "PIPE": subprocess.PIPE})

    @event.listens_for(sql_engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        conn.info["timeline_start"] = time.monotonic()

    @event.listens_for(sql_engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        _events.append(("sql", " ".join(statement.split())[:90], conn.info.pop("timeline_start"),
                        time.monotonic()))


def worker_main() -> None:
    """The row checker's entry point under the timeline: probe, check, write the events out."""
    import atexit

    from importer import checking, frames

    _probe_checker("worker")
    checking.batched = _timed_batches("worker")  # type: ignore[assignment]
    frames.FrameWriter.send_plain = _timed("worker", "hand_over", frames.FrameWriter.send_plain)  # type: ignore[method-assign]

    def write_out() -> None:
        with open(os.environ[EVENTS_ENV], "a") as out:
            for item in _events:
                out.write(json.dumps(item) + "\n")
    atexit.register(write_out)
    # The worker ends with os._exit only on a broken pipe; a normal end runs atexit.
    checking.serve_checks()
    write_out()
    atexit.unregister(write_out)


def _rss_mb(pid: int | str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sample_memory(stop: threading.Event, every: float = 0.05) -> dict[str, float]:
    """Sample this process's and its children's resident memory until `stop`; the peak of their sum."""
    peak = {"both_mb": 0.0, "self_mb": 0.0, "checker_mb": 0.0}

    def sample() -> None:
        me = os.getpid()
        while not stop.wait(every):
            children = " ".join(Path(f"/proc/{me}/task/{t}/children").read_text()
                                for t in os.listdir(f"/proc/{me}/task")
                                if Path(f"/proc/{me}/task/{t}/children").exists()).split()
            own, theirs = _rss_mb(me), sum(_rss_mb(c) for c in children)
            peak["self_mb"] = max(peak["self_mb"], own)
            peak["checker_mb"] = max(peak["checker_mb"], theirs)
            peak["both_mb"] = max(peak["both_mb"], own + theirs)
    threading.Thread(target=sample, daemon=True).start()
    return peak


def events() -> list[tuple[str, str, float, float]]:
    """Both processes' events (call after the import)."""
    found = list(_events)
    path = Path(os.environ.get(EVENTS_ENV, "/nonexistent"))
    if path.exists():
        found += [tuple(json.loads(line)) for line in path.read_text().splitlines()]  # type: ignore[misc]
    return found


def render(found: list[tuple[str, str, float, float]], start: float, end: float, width: int = 100,
           apply_from: float | None = None) -> str:
    """Draw the timeline (see the module docstring) and the totals."""
    step = (end - start) / width
    lines = [f"one character = {step:.2f} s; 0 = start of run_import, end = {end - start:.1f} s"]
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows: dict[str, list[dict[str, float]]] = {}
    for process, activity, t0, t1 in found:
        if process == "sql":
            totals["sql"][activity] += t1 - t0
            if apply_from is not None and t0 < apply_from:
                continue  # staging statements are already the importer's "stage"
            process, activity = "importer", "apply"
        totals[process][activity] += t1 - t0
        cells = rows.setdefault(process, [defaultdict(float) for _ in range(width)])
        first, last = int((t0 - start) / step), int((t1 - start) / step)
        for index in range(max(first, 0), min(last, width - 1) + 1):
            lo, hi = start + index * step, start + (index + 1) * step
            cells[index][activity] += max(0.0, min(hi, t1) - max(lo, t0))
    for process in ("worker", "importer"):
        if process not in rows:
            continue
        line = "".join(LETTERS[max(cell, key=cell.get)] if cell and max(cell.values()) > step / 3  # type: ignore[arg-type]
                       else "." for cell in rows[process])
        lines.append(f"{process:>8} |{line}|")
    for process in ("worker", "importer"):
        if process in totals:
            busy = ", ".join(f"{a} {s:.1f}" for a, s in sorted(totals[process].items(), key=lambda x: -x[1]))
            lines.append(f"{process}: {busy} (s)")
    statements = sorted(totals["sql"].items(), key=lambda x: -x[1])
    lines.append("statements over 0.2 s:")
    lines += [f"  {seconds:6.2f} s  {sql}" for sql, seconds in statements if seconds > 0.2]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit("use benchmarks/import_once.py --timeline")
