"""Streaming CSV downloads: written row by row while the client reads, never held whole."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    """Turn rows into CSV text, a line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_response(rows: Iterator[list[str]], filename: str) -> Response:
    """A CSV download. The rows are produced after the request's own session is closed, so the
    iterator must open (and close) its own database connection."""
    return Response(csv_lines(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
