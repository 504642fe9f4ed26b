"""Compiling a checked rule tree into one SQLAlchemy boolean expression over a contacts alias.

Every condition compiles to a two-valued expression (never SQL NULL), so that `not` means "does
not match" even for contacts without a value. Text compares ignoring case; IDs compare exactly.
Values always travel as bound parameters: no text from the user ever becomes SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, LargeBinary, String, and_, case, cast, exists, false, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from importer.addresses import address_key
from segments.rules import (
    EXTERNAL_ID_PREFIX,
    AllOf,
    AnyOf,
    Catalog,
    Condition,
    Not,
    Rule,
    day_end,
    day_start,
    years_before,
)
from segments.tables import contacts, external_ids


class address_domain(FunctionElement):  # noqa: N801  (named like the SQL functions it stands for)
    """The domain of an address key: what follows its '@' (email-validator allows only one)."""

    type = String()
    inherit_cache = True


@compiles(address_domain)
def _domain_sqlite(element: address_domain, compiler: SQLCompiler, **kw: Any) -> str:
    key = compiler.process(element.clauses, **kw)
    return f"substr({key}, instr({key}, '@') + 1)"


@compiles(address_domain, "postgresql")
def _domain_postgresql(element: address_domain, compiler: SQLCompiler, **kw: Any) -> str:
    return f"split_part({compiler.process(element.clauses, **kw)}, '@', 2)"


def bounced_address(c: FromClause) -> ColumnElement[bool]:
    """A bounce belongs to the address: some contact at c's address has bounced."""
    other = contacts.alias()
    return exists(select(1).select_from(other).where(
        other.c.account_id == c.c.account_id,
        other.c.address_key == c.c.address_key,
        other.c.status == "bounced",
    ))


def effective_status(c: FromClause) -> ColumnElement[str]:
    """The status that decides mailing: a contact at a bounced address counts as bounced."""
    return case(
        (c.c.status == "unsubscribed", "unsubscribed"),
        (or_(c.c.status == "bounced", bounced_address(c)), "bounced"),
        else_="active",
    )


def mailable(c: FromClause) -> ColumnElement[bool]:
    """May be sent to: active, and no contact at the address has bounced."""
    return and_(c.c.status == "active", ~bounced_address(c))


@dataclass(frozen=True)
class RuleCompiler:
    """Compiles rules of one account; `now` fixes "today" for relative dates."""

    catalog: Catalog
    now: datetime

    def __call__(self, rule: Rule, c: FromClause) -> ColumnElement[bool]:
        if isinstance(rule, AllOf):
            return and_(true(), *(self(part, c) for part in rule.parts))
        if isinstance(rule, AnyOf):
            return or_(false(), *(self(part, c) for part in rule.parts))
        if isinstance(rule, Not):
            return ~self(rule.part, c)
        return self.condition(rule, c)

    def condition(self, rule: Condition, c: FromClause) -> ColumnElement[bool]:
        if rule.kind == "external_id":
            return self._external_id(rule, c)
        if rule.kind == "status":
            return _compare(effective_status(c), rule.op, rule.value, nullable=False)
        if rule.kind == "timestamp":
            return self._timestamp(rule, c)
        if rule.kind == "text" and rule.op in _EQUALITY and rule.field not in ("email", "email_domain"):
            return self._text_equality(rule, c)
        column, value = self._value(rule, c)
        today = self.now.date().isoformat()
        # Each test reads the value once (coalesce, not an IS NOT NULL guard): on SQLite every
        # read of a field parses the contact's document again.
        if rule.op in ("within_last_days", "more_than_days_ago"):
            cutoff = (self.now.date() - timedelta(days=rule.value)).isoformat()
            if rule.op == "within_last_days":
                return func.coalesce(column.between(cutoff, today), false())
            return func.coalesce(column < cutoff, false())
        if rule.op in ("within_last_years", "more_than_years_ago"):
            # Dates are stored as YYYY-MM-DD, so comparing the text is comparing the dates.
            last_day = years_before(self.now.date(), rule.value).isoformat()
            if rule.op == "more_than_years_ago":
                return func.coalesce(column <= last_day, false())
            return func.coalesce(and_(column > last_day, column <= today), false())
        if rule.op in ("is_empty", "is_not_empty"):
            empty = column.is_(None) if rule.kind != "text" else or_(column.is_(None), column == "")
            return empty if rule.op == "is_empty" else ~empty
        return _compare(column, rule.op, value, nullable=True)

    def value_of(self, name: str, c: FromClause) -> ColumnElement[Any]:
        """A field's value in comparable form (text lower-cased), e.g. to tell combinations apart."""
        kind = self.catalog.kind_of(name)
        assert kind is not None, name
        return self._value(Condition(name, kind, "eq"), c)[0]

    def _value(self, rule: Condition, c: FromClause) -> tuple[ColumnElement[Any], Any]:
        """The column to test and the value to test it against, in comparable forms."""
        if rule.field == "email":
            return c.c.address_key, _keyed(rule.value)
        if rule.field == "email_domain":
            return address_domain(c.c.address_key), _keyed(rule.value)
        document = c.c.attributes[rule.field]
        if rule.kind == "text":
            return func.lower(document.as_string()), _lower(rule.value)
        if rule.kind == "number":
            return document.as_float(), rule.value
        if rule.kind == "boolean":
            return document.as_boolean(), rule.value
        return document.as_string(), _iso(rule.value)  # dates are stored as YYYY-MM-DD

    def _text_equality(self, rule: Condition, c: FromClause) -> ColumnElement[bool]:
        """eq, ne, in, not_in on a text field, ignoring case; on SQLite mostly without `lower()`."""
        stored = c.c.attributes[rule.field].as_string()
        values = [v.lower() for v in (rule.value if isinstance(rule.value, tuple) else (rule.value,))]
        matched = per_dialect(func.lower(stored).in_(values), sqlite=_caseless_in(stored, values))
        if rule.op in ("eq", "in"):
            return func.coalesce(matched, false())
        return func.coalesce(~matched, true())

    def _timestamp(self, rule: Condition, c: FromClause) -> ColumnElement[bool]:
        column = c.c[rule.field]
        if rule.op == "within_last_days":
            return column >= self.now - timedelta(days=rule.value)
        if rule.op == "more_than_days_ago":
            return column < self.now - timedelta(days=rule.value)
        if rule.op in ("within_last_years", "more_than_years_ago"):
            # On or before the same day (UTC) that many years ago: up to that day's end.
            after = day_end(years_before(self.now.date(), rule.value))
            return column < after if rule.op == "more_than_years_ago" else column >= after
        # A date stands for its whole day (UTC): "eq 2026-11-27" is any moment of that day.
        if rule.op in ("eq", "ne", "in", "not_in"):
            days = [_day(v, column) for v in (rule.value if isinstance(rule.value, tuple) else [rule.value])]
            matched = or_(*days)
            return matched if rule.op in ("eq", "in") else ~matched
        if rule.op == "between":
            low, high = rule.value
            return and_(column >= day_start(low), column < day_end(high))
        bound = {"gt": day_end, "gte": day_start, "lt": day_start, "lte": day_end}[rule.op](rule.value)
        return column >= bound if rule.op in ("gt", "gte") else column < bound

    def _external_id(self, rule: Condition, c: FromClause) -> ColumnElement[bool]:
        link_id = self.catalog.links[rule.field.removeprefix(EXTERNAL_ID_PREFIX)]
        # Merged IDs count too: they lead to the contact they were merged into.
        ids = external_ids.alias()
        held = [ids.c.contact_id == c.c.id, ids.c.link_id == link_id]
        if rule.op in ("is_empty", "is_not_empty"):
            found = exists(select(1).select_from(ids).where(*held))
            return ~found if rule.op == "is_empty" else found
        negated = {"ne": "eq", "not_in": "in"}.get(rule.op)
        test = _compare(ids.c.value, negated or rule.op, rule.value, nullable=False)
        found = exists(select(1).select_from(ids).where(*held, test))
        return ~found if negated else found


_EQUALITY = ("eq", "ne", "in", "not_in")


class per_dialect(FunctionElement):  # noqa: N801  (named like the SQL functions it stands for)
    """One of two equivalent tests, rendered by dialect: `sqlite` there, `default` elsewhere."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, default: ColumnElement[bool], *, sqlite: ColumnElement[bool]) -> None:
        super().__init__(default, sqlite)


@compiles(per_dialect)
def _per_dialect_default(element: per_dialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[0], **kw)})"


@compiles(per_dialect, "sqlite")
def _per_dialect_sqlite(element: per_dialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[1], **kw)})"


# The only character outside ASCII that Python's lower() makes ASCII ("K", Kelvin, becomes "k").
_KELVIN = "\u212a"


def _caseless_in(stored: ColumnElement[Any], lowered: list[str]) -> ColumnElement[bool]:
    """`lower(stored) IN lowered` on SQLite, calling the Python `lower()` (segments/sqlite.py, about
    1.5 µs a row) only for the few stored values that need it.

    SQLite's NOCASE folds ASCII letters alone, in C. A stored value lowers to an ASCII value only
    when it is ASCII itself (then NOCASE decides) or holds a Kelvin sign; it lowers to a value
    outside ASCII only when it is outside ASCII itself (more characters than bytes). Neither
    NOCASE match can be wrong: a value equal to a lowered one up to ASCII case lowers to it.
    """
    plain = [v for v in lowered if v.isascii()]
    other = [v for v in lowered if not v.isascii()]
    tests: list[ColumnElement[bool]] = []
    if plain:
        tests.append(stored.collate("NOCASE").in_(plain))
        if any("k" in v for v in plain):
            tests.append(and_(func.instr(stored, _KELVIN) > 0, func.lower(stored).in_(plain)))
    if other:
        tests.append(and_(func.length(stored) != func.length(cast(stored, LargeBinary)),
                          func.lower(stored).in_(other)))
    return or_(*tests)


def _compare(column: ColumnElement[Any], op: str, value: Any, *, nullable: bool) -> ColumnElement[bool]:
    """`column op value`, two-valued: an empty value matches only ne and not_in."""
    # Where a value may be missing, `coalesce` makes the test two-valued while evaluating the
    # value once (an `IS NULL` guard would extract it from the contact's document twice).
    if op in ("ne", "not_in"):
        test = column != value if op == "ne" else column.not_in(list(value))
        return func.coalesce(test, true()) if nullable else test
    if op == "eq":
        test = column == value
    elif op == "in":
        test = column.in_(list(value))
    elif op == "contains":
        test = column.contains(value, autoescape=True)
    elif op == "starts_with":
        test = column.startswith(value, autoescape=True)
    elif op == "ends_with":
        test = column.endswith(value, autoescape=True)
    elif op == "between":
        test = column.between(*value)
    else:
        test = {"gt": column > value, "gte": column >= value, "lt": column < value,
                "lte": column <= value}[op]
    return func.coalesce(test, false()) if nullable else test


def _lower(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(v.lower() for v in value)
    return value.lower() if isinstance(value, str) else value


def _keyed(value: Any) -> Any:
    """A rule's value on an address (or a part of one) in the form the address keys have."""
    if isinstance(value, tuple):
        return tuple(address_key(v) for v in value)
    return address_key(value) if isinstance(value, str) else value


def _iso(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(v.isoformat() for v in value)
    return value.isoformat() if isinstance(value, date) else value


def _day(value: date | datetime, column: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(column >= day_start(value), column < day_end(value))
