"""Checking a file's rows in batches: in this process, or in a second one while this one writes.

Checking rows (Python) takes most of an import's first phase; staging them (the database driver)
the rest. For a large file a worker process reads the file and shares the checking: it checks
most batches itself and passes the others on as read, for the importing process to check
between staging batches, so that both cores are busy and the file is parsed once.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from importer.addresses import AddressValidator
from importer.frames import FrameReader, FrameWriter
from importer.reading import FileFormat, FileUnreadable, LimitExceeded, read_rows
from importer.rows import Rejection, RowStats, make_row_checker
from importer.said import message_of
from importer.settings import AccountInfo, ImportSettings

BATCH_ROWS = 10_000
WORKER_MIN_BYTES = 8 * 1024 * 1024  # smaller files are checked faster than a process starts
# Of every 5 batches the worker checks 3 and passes 2 on: the importing process also stages every
# batch, so it takes the smaller part (3 of 5 balanced the two processes' CPU time on two cores).
WORKER_SHARE = (3, 5)

# A checked batch: its staged rows, its rejections, and how many data rows it had.
CheckedBatch = tuple[list[tuple], list[Rejection], int]


@dataclass(frozen=True)
class Split:
    """How the worker and the importer share a file's batches."""

    batch_rows: int
    worker_batches: int  # of every `cycle` batches, the last `worker_batches` are the worker's
    cycle: int

    def worker_checks(self, index: int) -> bool:
        """Tell whether the worker checks the batch with this index (the importer the rest).

        The importer's batches come first in each cycle: it starts checking as soon as the
        worker has parsed one batch, instead of waiting for the worker to check its share.
        """
        return index % self.cycle >= self.cycle - self.worker_batches


@dataclass(frozen=True)
class CheckJob:
    """Everything a checker needs, in a form that can be sent to another process."""

    path: str
    fmt: FileFormat
    settings: ImportSettings
    account: AccountInfo
    columns: list[str]


def batched(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    """Yield lists of up to `size` rows."""
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def data_records(path: str | os.PathLike, fmt: FileFormat) -> Iterator[tuple[int, list[str]]]:
    """Yield the file's data records with their row numbers, leaving out the header and blank rows.

    A row number is the row a spreadsheet shows the record on: every record counts, blank ones
    included, and a quoted cell with line breaks keeps its record on one row. The header is the
    first record that is not an empty line, as `inspect_file` previews it. A record of empty cells
    only (Excel writes ";;;" for rows once formatted) is a blank row, not a row without a key.
    """
    header_pending = fmt.has_header
    for row_no, cells in enumerate(read_rows(path, fmt), start=1):
        if header_pending:
            header_pending = not cells  # an empty line before the header
            continue
        # Most rows have a first cell: one strip tells them from blank rows.
        if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
            yield row_no, cells


def checked_batches(job: CheckJob, stats: RowStats) -> Iterator[CheckedBatch]:
    """Check the file's rows, batch by batch, in a worker process when the file is large."""
    if os.path.getsize(job.path) >= WORKER_MIN_BYTES:
        return _in_worker(job, stats)
    return _here(job, stats)


def _here(job: CheckJob, stats: RowStats) -> Iterator[CheckedBatch]:
    check = _batch_checker(job, stats)
    for batch in batched(data_records(job.path, job.fmt), BATCH_ROWS):
        yield check(batch)


def _batch_checker(job: CheckJob, stats: RowStats) -> Callable[[list], CheckedBatch]:
    checker = make_row_checker(job.settings, job.account, job.columns, stats, AddressValidator())

    def check(batch: list[tuple[int, list[str]]]) -> CheckedBatch:
        staged: list[tuple[Any, ...]] = []
        rejected: list[Rejection] = []
        for row_no, cells in batch:
            checked = checker(row_no, cells)
            if type(checked) is tuple:
                staged.append(checked)
            else:
                rejected.append(cast(Rejection, checked))
        return staged, rejected, len(batch)

    return check


def _in_worker(job: CheckJob, stats: RowStats) -> Iterator[CheckedBatch]:
    # A fresh interpreter, not a fork: the importing process may have threads (a web server's),
    # and a fork copies their locks. Batches come back in frames through the worker's stdout
    # (importer/frames.py); full queues hold the worker back, and a broken pipe (the importer
    # died) ends it.
    worker = subprocess.Popen(
        [sys.executable, "-c", "from importer.checking import serve_checks; serve_checks()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None
    results = FrameReader(worker.stdout)

    def receive() -> tuple[str, object]:
        try:
            return cast(tuple[str, object], results.receive())
        except EOFError:
            raise RuntimeError("the row checker stopped without a word") from None

    try:
        setup = FrameWriter(worker.stdin)
        setup.send((job, Split(BATCH_ROWS, *WORKER_SHARE)))
        setup.close()
        worker.stdin.close()
        check = _batch_checker(job, stats)
        # The batches come in file order: checked by the worker, or as read, to check here.
        while True:
            kind, payload = receive()
            if kind == "batch":
                staged, rejected, rows = cast(tuple[list[tuple], list[tuple], int], payload)
                yield staged, [Rejection(*r) for r in rejected], rows
            elif kind == "records":
                yield check(cast(list[tuple[int, list[str]]], payload))
            elif kind == "done":
                stats.merge(cast(RowStats, payload))
                return
            else:
                _raise_for(kind, payload)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
        results.close()
        worker.stdout.close()


def _raise_for(kind: str, payload: object) -> NoReturn:
    if kind == "unreadable":
        raise FileUnreadable(payload)
    if kind == "limit":
        message, limit = cast(tuple[str, str], payload)
        raise LimitExceeded(message, limit)
    raise RuntimeError(f"the row checker failed: {payload}")


def serve_checks() -> None:
    """The worker's side: read a CheckJob and a Split on stdin, write the batches to stdout."""
    # Short-lived tuples only (see pipeline._stage_file). A bare disable, not collector_paused():
    # this is a process of its own (its one other thread writes frames), which ends when the file
    # is checked.
    gc.disable()
    setup = FrameReader(sys.stdin.buffer)
    job, split = setup.receive()
    setup.close()
    stats = RowStats()
    outbox = FrameWriter(sys.stdout.buffer)
    send, send_plain = outbox.send, outbox.send_plain
    try:
        check = _batch_checker(job, stats)
        for index, batch in enumerate(batched(data_records(job.path, job.fmt), split.batch_rows)):
            if split.worker_checks(index):
                staged, rejected, rows = check(batch)
                plain = [(r.row, r.reason, r.detail, r.cells) for r in rejected]
                send_plain(("batch", (staged, plain, rows)))
            else:
                send_plain(("records", batch))
        send(("done", stats))
    except BrokenPipeError:  # the importer is gone: nobody reads any more
        os._exit(1)
    except LimitExceeded as error:
        send(("limit", (message_of(error), error.limit)))
    except FileUnreadable as error:
        send(("unreadable", message_of(error)))
    except Exception as error:  # noqa: BLE001 (said to the importer, which fails the job)
        send(("error", repr(error)))
    outbox.close()
