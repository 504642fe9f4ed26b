"""CSV downloads: written a few hundred rows at a time while the client reads, never held whole,
every cell safe to open in a spreadsheet.

Every CSV the product writes (send lists, ledgers, rejected rows, the contacts' export, the command
line's exports) goes through `csv_lines`, so that a contact named `=HYPERLINK(...)` is text in
Excel, never a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, repeat
from typing import Any

from flask import Response

from service.errors import InvalidInput
from service.spreadsheet import FORMULA_STARTS, spreadsheet_safe

ROWS_PER_CHUNK = 500  # one chunk of text per this many rows: fewer, larger writes to the client
BOM = "\ufeff"
# The delimiters a download may be asked for: `;` for a Dutch spreadsheet, tab for others.
DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t"}
FORMULA_PREFIXES = repeat(FORMULA_STARTS)  # endless: one for every cell of any row
LINE_END = "\r\n"  # the csv module's default line terminator
# A formula's first character after a delimiter or a line's end. Two literal-led alternatives:
# one "(?:^|[,\n])" scan took 0.34 s per 100,000 rows, this one 0.1 s.
_STARTS_CLASS = "[" + re.escape("".join(FORMULA_STARTS)) + "]"
_FORMULA_AFTER = {d: re.compile(f"{re.escape(d)}{_STARTS_CLASS}|\n{_STARTS_CLASS}")
                  for d in set(DELIMITERS.values())}


def csv_lines(rows: Iterable[Sequence[Any]], *, delimiter: str = ",", bom: bool = False) -> Iterator[str]:
    """Turn rows into spreadsheet-safe CSV text, a chunk of lines at a time (a byte-order mark
    first if asked)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    if bom:
        buffer.write(BOM)
    rows = iter(rows)
    while batch := list(islice(rows, ROWS_PER_CHUNK)):
        plain = _plain_lines(batch, delimiter)
        if plain is not None:
            buffer.write(plain)
        else:
            writer.writerows(_spreadsheet_safe_rows(batch))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # a byte-order mark and no rows
        yield buffer.getvalue()


def _plain_lines(batch: list[Sequence[Any]], delimiter: str) -> str | None:
    """The batch's lines as the csv module writes them, when no cell needs anything: every cell
    is text with no quote, delimiter or line break in it, none starting as a formula, and no row
    is a lone empty cell. None otherwise (then the csv module writes the batch).

    The cells are joined and the whole text checked at once, in C: a million rows of an export
    took 0.87 s of CPU per 200,000 in the per-row escaping check and the csv module, 0.33 s so.
    """
    try:
        text = LINE_END.join(map(delimiter.join, batch)) + LINE_END
    except TypeError:  # a cell that is not text (a number, None)
        return None
    rows = len(batch)
    if ('"' in text or text.count("\r") != rows or text.count("\n") != rows
            or text.count(delimiter) != sum(map(len, batch)) - rows  # one fewer than the cells
            or min(map(len, batch)) < 2 or _formula_start(text, delimiter)):
        return None
    return text


def _formula_start(text: str, delimiter: str) -> bool:
    """Whether a cell in the lines may start as a formula: at the start, after a delimiter or
    after a line's end (a false alarm, such as an empty cell before a tab delimiter, only costs
    time)."""
    starts = _FORMULA_AFTER.get(delimiter)
    return starts is None or text.startswith(FORMULA_STARTS) or starts.search(text) is not None


def _spreadsheet_safe_rows(batch: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """The rows with every text cell made spreadsheet-safe.

    Most rows hold no cell to escape: whether one does is asked in C (str.startswith mapped over
    the row), and only such a row is rebuilt; a cell per call in Python took the longest part of
    exporting a million contacts. A batch with cells that are not text takes the general way.
    """
    try:
        return [[spreadsheet_safe(cell) for cell in row] if any(map(str.startswith, row, FORMULA_PREFIXES))
                else row for row in batch]
    except TypeError:  # a cell that is not text (a number, None)
        return [[spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row] for row in batch]


def csv_delimiter(value: str | None) -> str:
    """The delimiter a `?delimiter=` asks for (default `,`): `,`, `;`, or a tab (`tab` or `\\t`)."""
    if value is None or value == "":
        return ","
    if value not in DELIMITERS:
        raise InvalidInput("delimiter must be , or ; or tab", part="delimiter")
    return DELIMITERS[value]


def csv_response(rows: Iterator[Sequence[Any]], filename: str, *, delimiter: str = ",",
                 bom: bool = False) -> Response:
    """A CSV download. The rows are produced after the request's own session is closed, so the
    iterator must open (and close) its own database connection."""
    return Response(csv_lines(rows, delimiter=delimiter, bom=bom), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
