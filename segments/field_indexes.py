"""Indexes on the fields that saved segments test, so that a preview or send list on a field reads
the matching contacts instead of every contact's document.

On PostgreSQL one index per account and field, partial (`WHERE account_id = N`: an account's
imports pay only for the indexes its own segments want). On SQLite one per field for all accounts,
the value first and the account beside it: the statements name the account as `+account_id` (see
`without_index`), which a partial index cannot match. The index holds the value in the form the
rule's bare test compares (`segments.compiler.indexed_form`). A field is worth one when a saved
segment tests it where an index can answer: not below a `not`, with a test that looks values up
(text eq and in; numbers and dates by value or range; booleans by value). SQLite is kept off
indexes for open ranges (see `RuleCompiler.condition`), so there they want none.

The database lists what exists: an index's name carries its account and a digest of the field, its
kind and the form's version, so a changed kind or form is a different index and the old one goes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from segments.compiler import indexed_form
from segments.rules import AllOf, AnyOf, Condition, Rule
from segments.tables import contacts

PREFIX = "ix_field_"
FORM_VERSION = 1  # raise when `indexed_form` changes: every index is then made again
NAMED = re.compile(rf"{PREFIX}(\d+|all)_([0-9a-f]{{12}})")

_RANGES = ("between", "gt", "gte", "lt", "lte")
_OPEN_RANGES = ("gt", "gte", "lt", "lte", "more_than_days_ago", "more_than_years_ago")
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
    def name(self) -> str:
        digest = hashlib.sha256(f"{FORM_VERSION}:{self.kind}:{self.field}".encode()).hexdigest()[:12]
        owner = "all" if self.account_id is None else int(self.account_id)
        return f"{PREFIX}{owner}_{digest}"

    def create(self, dialect: str) -> str:
        """The statement that makes the index (on PostgreSQL without blocking writes: run it
        outside a transaction)."""
        form = indexed_form(contacts, self.field, self.kind, dialect).compile(
            dialect=_DIALECTS[dialect], compile_kwargs={"literal_binds": True, "include_table": False})
        # PostgreSQL wants an expression in parentheses; SQLite reads `... COLLATE NOCASE` bare as
        # the indexed column's collation.
        columns = f"({form})" if dialect == "postgresql" else str(form)
        if self.account_id is None:
            return f"CREATE INDEX IF NOT EXISTS {self.name} ON contacts ({columns}, account_id)"
        concurrently = "CONCURRENTLY " if dialect == "postgresql" else ""
        return (f"CREATE INDEX {concurrently}IF NOT EXISTS {self.name} ON contacts ({columns}) "
                f"WHERE account_id = {int(self.account_id)}")


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
    elif isinstance(rule, Condition) and fields.get(rule.field) == rule.kind:
        kept_off = dialect == "sqlite" and rule.op in _OPEN_RANGES
        if rule.op in SEARCHED_BY.get(rule.kind, ()) and not kept_off:
            yield rule.field, rule.kind
