"""What the segment engine needs of a SQLite connection: the text semantics PostgreSQL has.

Rules compare text ignoring case and IDs exactly, on both databases. SQLite's `lower()` only
changes A-Z, it has no `translate()` (which folds accents away: importer/doubles.py), and its
LIKE ignores the case of A-Z, so the service prepares every SQLite
connection with `prepare_connection`, and its engine's dialect with `prepare_dialect`.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import FromClause


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@functools.lru_cache(maxsize=16)
def _table(source: str, target: str) -> dict[int, str | None]:
    # The first place of a character counts, as in PostgreSQL: later ones are overwritten.
    return {ord(char): target[n] if n < len(target) else None
            for n, char in reversed(list(enumerate(source)))}


def _translate(value: Any, source: Any, target: Any) -> Any:
    """PostgreSQL's translate(): each character of `source` becomes the one at its place in `target`
    (or goes, past its end); the table is made once per pair of strings, not once per row."""
    if not isinstance(value, str) or not isinstance(source, str) or not isinstance(target, str):
        return value
    return value.translate(_table(source, target))


def prepare_connection(dbapi_connection: sqlite3.Connection) -> None:
    """Give the connection Unicode `lower()` ("É" -> "é", as Python and PostgreSQL do), PostgreSQL's
    `translate()` and a case-sensitive LIKE (as PostgreSQL's), so that the same SQL means the same."""
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    dbapi_connection.create_function("translate", 3, _translate, deterministic=True)
    dbapi_connection.execute("PRAGMA case_sensitive_like = ON")


class HintingCompiler(SQLiteCompiler):
    """SQLite's statement compiler, writing a table's hint after it: SQLAlchemy's drops them all.

    The one hint SQLite has is `INDEXED BY name` (segments/collapse.py names the field index to
    walk: SQLite 3.40 cannot tell which of the field indexes holds the value a rule reads)."""

    def get_from_hint_text(self, table: FromClause, text: str | None) -> str | None:
        return text


def prepare_dialect(dialect: Dialect) -> None:
    """Let the engine's SQLite dialect write table hints (`HintingCompiler`)."""
    dialect.statement_compiler = HintingCompiler
