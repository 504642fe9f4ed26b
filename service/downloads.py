"""CSV downloads: written row by row while the client reads, never held whole, every cell safe
to open in a spreadsheet.

Every CSV the product writes (send lists, ledgers, rejected rows, the command line's export) goes
through `csv_lines`, so that a contact named `=HYPERLINK(...)` is text in Excel, never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Response

# A cell starting with one of these is a formula to a spreadsheet (OWASP's list, with tab and CR).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """Keep a cell from being read as a formula: a leading ' makes it text."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    """Turn rows into spreadsheet-safe CSV text, a line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_response(rows: Iterator[list[str]], filename: str) -> Response:
    """A CSV download. The rows are produced after the request's own session is closed, so the
    iterator must open (and close) its own database connection."""
    return Response(csv_lines(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
