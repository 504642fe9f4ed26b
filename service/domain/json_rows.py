"""Many rows in one statement: the rows travel as one JSON document, not a parameter per value.

For thousands of rows this beats executemany by far: the driver and SQLAlchemy process one
parameter instead of one per value, and `json.dumps` is C. The database unpacks the document
(PostgreSQL: json_array_elements; SQLite: json_each) into typed columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection


def insert_rows(conn: Connection, table: str, columns: Sequence[tuple[str, str]],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT rows (lists of values in the order of `columns`, each (name, type) with type
    integer, text or timestamp) into `table`, in one statement."""
    if not rows:
        return
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        values = ", ".join(f"CAST(e->>{n} AS {'timestamptz' if kind == 'timestamp' else kind})"
                           for n, (_, kind) in enumerate(columns))
        source = "json_array_elements(CAST(:rows AS json)) AS e"
    else:
        values = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(columns)))
        source = "json_each(:rows)"
    moments = [n for n, (_, kind) in enumerate(columns) if kind == "timestamp"]
    document = [[_stored(row[n], postgres) if n in moments else row[n] for n in range(len(columns))]
                for row in rows]
    names = ", ".join(name for name, _ in columns)
    conn.execute(text(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}"),
                 {"rows": json.dumps(document)})


def _stored(moment: datetime | None, postgres: bool) -> str | None:
    """A UTC time as the column stores it: ISO 8601 for PostgreSQL, SQLAlchemy's own text form
    (UTC, no zone) for SQLite, so that it compares with the times SQLAlchemy writes."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.isoformat() if postgres else moment.strftime("%Y-%m-%d %H:%M:%S.%f")
