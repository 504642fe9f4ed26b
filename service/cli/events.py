"""`safeguard events import ACCOUNT FILE`: a mailing system's bounce file (CSV) taken as events.

The file is read as a stream, in batches of 10,000 rows, each applied as one batch of
POST /api/v1/events would be (service/domain/events.py), so memory stays constant whatever the
file's size and a file sent again changes nothing when its rows carry event ids.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from service.cli.context import Context, account_named, pass_context
from service.domain.events import MAX_EVENTS, record_events
from service.models import EventStatus

COLUMNS = ("type", "contact", "address", "mailing", "occurred_at", "event_id", "detail")
NUMBERS = ("contact", "mailing")


@click.group("events")
def events_group() -> None:
    """Events from the mailing system: unsubscribes, complaints and bounces."""


@events_group.command("import")
@click.argument("account_name", metavar="ACCOUNT")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--delimiter", default=",", show_default=True, help="The CSV's delimiter.")
@pass_context
def events_import(ctx: Context, account_name: str, path: Path, delimiter: str) -> None:
    """Apply a CSV of events (header: type, address or contact, event_id, occurred_at, and
    optionally mailing and detail); invalid rows are listed with their line number."""
    with ctx.session() as session:
        account_id = account_named(session, account_name).id
    counts: Counter[str] = Counter()
    with path.open("rb") as raw, click.progressbar(length=path.stat().st_size, label="Events",
                                                   file=sys.stderr) as bar:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        done = 0
        for batch in _batches(csv.reader(text, delimiter=delimiter)):
            answers = record_events(ctx.engine, account_id, [event for _, event in batch])
            for (line, _), answer in zip(batch, answers, strict=True):
                counts[answer["status"]] += 1
                if answer["status"] == EventStatus.INVALID:
                    click.echo(f"line {line}: {answer['message']}", err=True)
            position = raw.tell()  # where the reader has got to in the file, give or take a buffer
            bar.update(position - done)
            done = position
    click.echo(f"Events from {path.name}")
    for status in EventStatus:
        click.echo(f"  {status:<18}{counts[status]:>10}")


def _batches(rows: Any) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """(line number, event) in batches of at most MAX_EVENTS; the header names the columns."""
    header = [name.strip().lower() for name in next(rows, [])]
    if "type" not in header or not {"contact", "address"} & set(header):
        raise click.ClickException("the file's header must name a type column and an address or "
                                   f"contact column (columns: {', '.join(COLUMNS)})")
    known = [(index, name) for index, name in enumerate(header) if name in COLUMNS]
    batch: list[tuple[int, dict[str, Any]]] = []
    line = rows.line_num + 1  # where the next row starts (a quoted cell may span lines)
    for row in rows:
        start, line = line, rows.line_num + 1
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        event = {name: _value(name, row[index]) for index, name in known
                 if index < len(row) and row[index].strip()}
        batch.append((start, event))
        if len(batch) == MAX_EVENTS:
            yield batch
            batch = []
    if batch:
        yield batch


def _value(name: str, cell: str) -> Any:
    """A cell as the API would get it: ids as numbers (when they are), the rest as text."""
    cell = cell.strip()
    if name in NUMBERS and cell.isascii() and cell.isdigit():
        return int(cell)
    return cell
