"""csv_lines writes the same bytes as the csv module does on spreadsheet-safe cells (a differential
test of its fast path, which joins and checks a batch's cells as one text).

The reference is the way every CSV was written before that path: csv.writer (the excel dialect,
QUOTE_MINIMAL) over the rows with each text cell through spreadsheet_safe.
"""

from __future__ import annotations

import csv
import enum
import io
import random
from typing import Any

import pytest

from service.downloads import BOM, ROWS_PER_CHUNK, csv_lines
from service.spreadsheet import spreadsheet_safe

# Every kind of cell that needs something, and a few that look as if they might.
HOSTILE = ['"', 'a"b', '""', ",", "a,b", ";", "a;b", "\t", "a\tb", "\n", "a\nb", "\r", "a\r\nb", "=1+1",
           "+31", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", " =x", "x=", "a-b", "a@b", "", "é", "日本語",
           "😀", "\u2028", "\x00", "\\", "a'b", "\ufeff"]
SAFE = ["12", "ann@example.nl", "active", "2026-12-01T10:00:00+00:00", "Den Haag", "S3", "true", "", "x y"]
DELIMITERS = [",", ";", "\t"]


def reference(rows: list[list[Any]], delimiter: str, bom: bool) -> str:
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    csv.writer(buffer, delimiter=delimiter).writerows(
        [[spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row] for row in rows])
    return buffer.getvalue()


def written(rows: list[list[Any]], delimiter: str, bom: bool = False) -> str:
    return "".join(csv_lines(rows, delimiter=delimiter, bom=bom))


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_one_hostile_cell_in_any_column_of_a_plain_batch_is_written_as_the_csv_module_does(delimiter):
    plain = [list(SAFE) for _ in range(ROWS_PER_CHUNK - 1)]
    assert written(plain, delimiter) == reference(plain, delimiter, False)  # the fast path itself
    for value in HOSTILE:
        for column in (0, len(SAFE) - 1):
            row = list(SAFE)
            row[column] = value
            for at in (0, ROWS_PER_CHUNK - 2):  # the first and the last row of a chunk
                rows = [*plain[:at], row, *plain[at:]]
                assert written(rows, delimiter) == reference(rows, delimiter, False), (value, column, at)


@pytest.mark.parametrize("delimiter", DELIMITERS)
@pytest.mark.parametrize("bom", [False, True])
def test_random_rows_of_hostile_and_plain_cells_are_written_as_the_csv_module_does(delimiter, bom):
    rng = random.Random(f"{delimiter}{bom}")
    cells = [*HOSTILE, *SAFE * 6, None, 5, 1.5]
    for _ in range(30):
        width = rng.choice((1, 2, 3, 9))
        share = rng.choice((0.0, 0.001, 0.05))  # how many rows hold a cell that needs something
        rows = [[rng.choice(cells) if rng.random() < share else rng.choice(SAFE) for _ in range(width)]
                for _ in range(rng.randint(0, 3 * ROWS_PER_CHUNK))]
        assert written(rows, delimiter, bom) == reference(rows, delimiter, bom)


class Word(str, enum.Enum):  # noqa: UP042 - on purpose: str() is "Word.ACTIVE", the text "active"
    ACTIVE = "active"


def test_rows_that_are_not_plain_lines_keep_the_csv_modules_form():
    # A lone empty cell is "" to the csv module (an empty line would be no row), an empty row an
    # empty line, rows of different widths are fine, numbers and None are cells too.
    for rows in ([[""]], [["a"], [""]], [[]], [["a", "b"], ["c"]], [[1, None, "x"]], [["a"], ["b"]],
                 [[Word.ACTIVE, "x"]]):
        assert written(rows, ",") == reference(rows, ",", False), rows


def test_a_chunk_is_still_written_per_batch_of_rows():
    rows = [list(SAFE) for _ in range(2 * ROWS_PER_CHUNK + 1)]
    chunks = list(csv_lines(rows, bom=True))
    assert len(chunks) == 3 and chunks[0].startswith(BOM)
    assert [chunk.count("\r\n") for chunk in chunks] == [ROWS_PER_CHUNK, ROWS_PER_CHUNK, 1]
    assert list(csv_lines([], bom=True)) == [BOM]
