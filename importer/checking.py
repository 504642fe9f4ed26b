"""Checking a file's rows in batches: in this process, or in a second one while this one writes.

Reading and checking rows (Python) and staging them (the database driver) each take about half
of an import's first phase. For a large file a worker process checks while the importing process
stages, so the two halves overlap on a machine with two cores.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from importer.addresses import AddressValidator
from importer.reading import FileFormat, FileUnreadable, read_rows
from importer.rows import Rejection, RowStats, make_row_checker
from importer.settings import AccountInfo, ImportSettings
from importer.stage import batched

BATCH_ROWS = 10_000
WORKER_MIN_BYTES = 8 * 1024 * 1024  # smaller files are checked faster than a process starts

# A checked batch: its staged rows, its rejections, and how many data rows it had.
CheckedBatch = tuple[list[tuple], list[Rejection], int]


@dataclass(frozen=True)
class CheckJob:
    """Everything a checker needs, in a form that can be sent to another process."""

    path: str
    fmt: FileFormat
    settings: ImportSettings
    account: AccountInfo
    columns: list[str]


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
    checker = make_row_checker(job.settings, job.account, job.columns, stats, AddressValidator())
    for batch in batched(data_records(job.path, job.fmt), BATCH_ROWS):
        staged, rejected = [], []
        for row_no, cells in batch:
            checked = checker(row_no, cells)
            if type(checked) is tuple:
                staged.append(checked)
            else:
                rejected.append(checked)  # type: ignore[arg-type]
        yield staged, rejected, len(batch)


def _in_worker(job: CheckJob, stats: RowStats) -> Iterator[CheckedBatch]:
    # A fresh interpreter, not a fork: the importing process may have threads (a web server's),
    # and a fork copies their locks. Batches come back pickled through the worker's stdout; a
    # full pipe holds the worker back, and a broken one (the importer died) ends it.
    worker = subprocess.Popen(
        [sys.executable, "-c", "from importer.checking import serve_checks; serve_checks()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        pickle.dump(job, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        worker.stdin.close()
        while True:
            try:
                kind, payload = pickle.load(worker.stdout)
            except EOFError:
                raise RuntimeError("the row checker stopped without a word") from None
            if kind == "batch":
                yield payload
            elif kind == "done":
                stats.typo_domains.update(payload)
                return
            elif kind == "unreadable":
                raise FileUnreadable(payload)
            else:
                raise RuntimeError(f"the row checker failed: {payload}")
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
        worker.stdout.close()


def serve_checks() -> None:
    """The worker's side: read a CheckJob on stdin, write the checked batches to stdout."""
    gc.disable()  # short-lived tuples only; see pipeline.run_import
    out = sys.stdout.buffer
    job = pickle.load(sys.stdin.buffer)
    stats = RowStats()

    def send(item: tuple) -> None:
        pickle.dump(item, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        for batch in _here(job, stats):
            send(("batch", batch))
        send(("done", Counter(stats.typo_domains)))
    except BrokenPipeError:  # the importer is gone: nobody reads any more
        os._exit(1)
    except FileUnreadable as error:
        send(("unreadable", str(error)))
    except Exception as error:  # noqa: BLE001 (said to the importer, which fails the job)
        send(("error", repr(error)))
