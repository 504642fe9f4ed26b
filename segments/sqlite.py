"""What the segment engine needs of a SQLite connection: the text semantics PostgreSQL has.

Rules compare text ignoring case and IDs exactly, on both databases. SQLite's `lower()` only
changes A-Z, and its LIKE ignores the case of A-Z, so the service prepares every SQLite
connection with `prepare_connection`.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def prepare_connection(dbapi_connection: sqlite3.Connection) -> None:
    """Give the connection Unicode `lower()` ("É" -> "é", as Python and PostgreSQL do) and a
    case-sensitive LIKE (as PostgreSQL's), so that the same rule matches the same contacts."""
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    dbapi_connection.execute("PRAGMA case_sensitive_like = ON")
