"""The name folding of possible doubles (importer/doubles.py) on SQLite as PostgreSQL does it:
case and accents go, and translate() keeps PostgreSQL's rules (PostgreSQL runs the same SQL in
tests/integration/test_possible_doubles.py)."""

from __future__ import annotations

import sqlite3

import pytest

from importer.doubles import folded
from segments.sqlite import prepare_connection


@pytest.fixture
def conn() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    prepare_connection(connection)
    return connection


@pytest.mark.parametrize(("name", "plain"), [
    ("  SÄNNE Jansen ", "sanne jansen"), ("Émile Dupré", "emile dupre"), ("Zoë Łukasz", "zoe lukasz"),
    ("Çağla Şahin", "cagla sahin"), ("Jan de Vries", "jan de vries"),
])
def test_names_are_folded(conn: sqlite3.Connection, name: str, plain: str) -> None:
    assert conn.execute(f"SELECT {folded(':name')}", {"name": name}).fetchone()[0] == plain


def test_translate_keeps_postgresqls_rules(conn: sqlite3.Connection) -> None:
    # The first place of a character counts; characters past the target's end go; NULL stays NULL.
    assert conn.execute("SELECT translate('abcab', 'aab', 'xyz')").fetchone()[0] == "xzcxz"
    assert conn.execute("SELECT translate('12345', '143', 'ax')").fetchone()[0] == "a2x5"
    assert conn.execute("SELECT translate(NULL, 'a', 'b')").fetchone()[0] is None
