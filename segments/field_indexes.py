"""Indexes on the fields that saved segments test, so that a preview or send list on a field reads
the matching contacts instead of every contact's document.

On PostgreSQL one index per account and field, partial (`WHERE account_id = N`: an account's
imports pay only for the indexes its own segments want), on the value in the form the rule's bare
test compares (`segments.compiler.indexed_form`). A field is worth one when a saved segment tests
it where an index can answer: not below a `not`, with a test that looks values up (text eq and in;
numbers and dates by value or range; booleans by value).

On SQLite one per field for all accounts, in the order of the account's address index:
(account_id, address_key, status, value), the value held in a generated column of the contacts
(VIRTUAL: computed, not stored). A preview then counts any rule on that field in one pass over the
index, grouping by address as it goes and never reading a contact's row or document
(segments/collapse.py); SQLite 3.40 reads an indexed value from the index only as a column, not
as an expression. So there every test of the field wants one, whatever its operator. The
columns stay when their index goes (dropping one would break a statement compiled just before):
an unindexed generated column costs nothing, and the same field asks for the same one again.

The database lists what exists: an index's name carries its account and a digest of the field, its
kind and the form's version, so a changed kind or form is a different index and the old one goes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

from segments.compiler import document_value, indexed_form
from segments.rules import AllOf, AnyOf, Condition, Not, Rule
from segments.tables import contacts

PREFIX = "ix_field_"
COLUMN_PREFIX = "f_"
FORM_VERSION = 2  # raise when `indexed_form` or an index's shape changes: every index is made again
NAMED = re.compile(rf"{PREFIX}(\d+|all)_([0-9a-f]{{12}})")
COLUMN_NAMED = re.compile(rf"{COLUMN_PREFIX}[0-9a-f]{{12}}")
# What a generated column is declared as: the affinity of the CAST in its expression, so that it
# compares exactly as the expression did.
_DECLARED = {"text": "VARCHAR", "date": "VARCHAR", "number": "FLOAT", "boolean": "BOOLEAN"}

_RANGES = ("between", "gt", "gte", "lt", "lte")
SEARCHED_BY = {
    "text": ("eq", "in"),
    "number": ("eq", "in", *_RANGES),
    "date": ("eq", "in", *_RANGES, "within_last_days", "within_last_years", "more_than_days_ago",
             "more_than_years_ago"),
    "boolean": ("eq",),
}
_DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


@dataclass(frozen=True)
class FieldIndex:
    """The index on one field: of one account (`account_id`), or of every account (None)."""

    account_id: int | None
    field: str
    kind: str

    @classmethod
    def of(cls, account_id: int, field: str, kind: str, dialect: str) -> FieldIndex:
        """The index that serves the account's rules on the field, on this database."""
        return cls(None if dialect == "sqlite" else account_id, field, kind)

    @property
    def _digest(self) -> str:
        return hashlib.sha256(f"{FORM_VERSION}:{self.kind}:{self.field}".encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        owner = "all" if self.account_id is None else int(self.account_id)
        return f"{PREFIX}{owner}_{self._digest}"

    @property
    def column(self) -> str:
        """SQLite: the generated column that holds the field's value."""
        return f"{COLUMN_PREFIX}{self._digest}"

    def add_column(self) -> str:
        """SQLite: the statement that gives the contacts the field's generated column."""
        value = _literal(document_value(contacts, self.field, self.kind), "sqlite")
        return (f"ALTER TABLE contacts ADD COLUMN {self.column} {_DECLARED[self.kind]} "
                f"GENERATED ALWAYS AS ({value}) VIRTUAL")

    def create(self, dialect: str) -> str:
        """The statement that makes the index (on PostgreSQL without blocking writes: run it
        outside a transaction; on SQLite after `add_column`)."""
        if dialect == "sqlite":
            # The address index's columns, then the value: read in the order a preview groups them.
            return (f"CREATE INDEX IF NOT EXISTS {self.name} "
                    f"ON contacts (account_id, address_key, status, {self.column})")
        assert self.account_id is not None, "PostgreSQL's field indexes are per account"
        form = _literal(indexed_form(contacts, self.field, self.kind, dialect), dialect)
        return (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {self.name} ON contacts (({form})) "
                f"WHERE account_id = {int(self.account_id)}")


def _literal(expression: ColumnElement[Any], dialect: str) -> str:
    """An expression over the contacts as DDL writes it: values inline, columns unqualified."""
    return str(expression.compile(dialect=_DIALECTS[dialect],
                                  compile_kwargs={"literal_binds": True, "include_table": False}))


def index_holding(column: str) -> str:
    """SQLite: the name of the index on the generated column `column`."""
    assert COLUMN_NAMED.fullmatch(column), column
    return f"{PREFIX}all_{column.removeprefix(COLUMN_PREFIX)}"


def present(conn: Connection) -> dict[str, bool]:
    """The field indexes that exist on the contacts, by name: whether each is usable (on
    PostgreSQL a build that failed leaves an invalid one)."""
    if conn.dialect.name == "sqlite":
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                  "AND tbl_name = 'contacts'")).scalars()
        return {name: True for name in names if NAMED.fullmatch(name)}
    rows = conn.execute(text(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass('contacts')"))
    return {name: valid for name, valid in rows if NAMED.fullmatch(name)}


def indexed_columns(conn: Connection, fields: Mapping[str, str]) -> dict[str, str]:
    """SQLite: the account's `fields` (name: kind) whose generated column has its index, by name
    (for `RuleCompiler.columns`); nothing elsewhere."""
    if conn.dialect.name != "sqlite":
        return {}
    names = present(conn)
    found = {}
    for name, kind in fields.items():
        index = FieldIndex(None, name, kind)
        if kind in _DECLARED and index.name in names:
            found[name] = index.column
    return found


def drop(name: str, dialect: str) -> str:
    """The statement that removes the index `name` (on PostgreSQL outside a transaction)."""
    assert NAMED.fullmatch(name), name
    return f"DROP INDEX {'CONCURRENTLY ' if dialect == 'postgresql' else ''}IF EXISTS {name}"


def searched_fields(rule: Rule, fields: dict[str, str], dialect: str) -> Iterator[tuple[str, str]]:
    """The (field, kind) pairs of the account's `fields` that `rule` tests where an index can
    answer: include tests (not below a `not`) that look values up."""
    if isinstance(rule, (AllOf, AnyOf)):
        for part in rule.parts:
            yield from searched_fields(part, fields, dialect)
    elif isinstance(rule, Not):
        if dialect == "sqlite":  # a pass over the index answers a negated test as well
            yield from searched_fields(rule.part, fields, dialect)
    elif isinstance(rule, Condition) and fields.get(rule.field) == rule.kind:
        if dialect == "sqlite" or rule.op in SEARCHED_BY.get(rule.kind, ()):
            yield rule.field, rule.kind
