"""Compiling a checked rule tree into one SQLAlchemy boolean expression over a contacts alias.

Every condition compiles to a two-valued expression (never SQL NULL), so that `not` means "does
not match" even for contacts without a value. Text compares ignoring case; IDs compare exactly.
Values always travel as bound parameters: no text from the user ever becomes SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, LargeBinary, String, and_, case, cast, exists, false, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnClause
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

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


def effective_status(c: FromClause, address_bounced: ColumnElement[bool] | None = None) -> ColumnElement[str]:
    """The status that decides mailing: a contact at a bounced address counts as bounced (looked up,
    unless `address_bounced` says it)."""
    return case(
        (c.c.status == "unsubscribed", "unsubscribed"),
        (or_(c.c.status == "bounced", bounced_address(c) if address_bounced is None else address_bounced),
         "bounced"),
        else_="active",
    )


def mailable(c: FromClause) -> ColumnElement[bool]:
    """May be sent to: active, and no contact at the address has bounced."""
    return and_(c.c.status == "active", ~bounced_address(c))


@dataclass(frozen=True)
class RuleCompiler:
    """Compiles rules of one account; `now` fixes "today" for relative dates.

    `columns`: fields whose value the contacts also hold in a column of their own (SQLite's
    generated field columns, segments/field_indexes.py), by field name: tests read that column,
    which its index holds, instead of the contact's document.
    """

    catalog: Catalog
    now: datetime
    columns: Mapping[str, str] = field(default_factory=dict)
    # Whether c's address bounced, where the statement knows it (a walk of the contacts grouped by
    # address), so that a test of the status need not look it up.
    address_bounced: ColumnElement[bool] | None = None

    def __call__(self, rule: Rule, c: FromClause, *, where: bool = False) -> ColumnElement[bool]:
        """The rule as a two-valued test; `where`: only ever used as a WHERE (or FILTER) condition.

        There a missing value may stay SQL NULL where the two-valued form says false, since NULL
        selects nothing either, and AND and OR keep that (NULL and false are both not true
        whatever the other side is). NOT does not, so below a `not` the two-valued form returns.
        The bare test (`json_extract(...) = ?`, not `coalesce(... = ?, 0) = 1`) is one that an
        index on the field's value can serve.
        """
        if isinstance(rule, AllOf):
            return and_(true(), *(self(part, c, where=where) for part in rule.parts))
        if isinstance(rule, AnyOf):
            return or_(false(), *(self(part, c, where=where) for part in rule.parts))
        if isinstance(rule, Not):
            return ~self(rule.part, c)
        return self.condition(rule, c, where=where)

    def condition(self, rule: Condition, c: FromClause, *, where: bool = False) -> ColumnElement[bool]:
        known = _as_is if where else _false_if_null
        if rule.kind == "external_id":
            return self._external_id(rule, c)
        if rule.kind == "status":
            return _compare(effective_status(c, self.address_bounced), rule.op, rule.value)
        if rule.kind == "timestamp":
            return self._timestamp(rule, c)
        in_document = rule.field not in ("email", "email_domain")  # those two are the address key's
        if rule.kind == "text" and rule.op in _EQUALITY and in_document:
            return self._text_equality(rule, c, known)
        column, value = self._value(rule, c)
        today = self.now.date().isoformat()
        # Each test reads the value once (coalesce, not an IS NOT NULL guard): on SQLite every
        # read of a field parses the contact's document again.
        if rule.op in ("within_last_days", "more_than_days_ago"):
            cutoff = (self.now.date() - timedelta(days=rule.value)).isoformat()
            if rule.op == "within_last_days":
                return known(column.between(cutoff, today))
            return known(column < cutoff)
        if rule.op in ("within_last_years", "more_than_years_ago"):
            # Dates are stored as YYYY-MM-DD, so comparing the text is comparing the dates.
            last_day = years_before(self.now.date(), rule.value).isoformat()
            if rule.op == "more_than_years_ago":
                return known(column <= last_day)
            return known(and_(column > last_day, column <= today))
        if rule.op in ("is_empty", "is_not_empty"):
            empty = column.is_(None) if rule.kind != "text" else or_(column.is_(None), column == "")
            return empty if rule.op == "is_empty" else ~empty
        return _compare(column, rule.op, value, known)

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
        value = self._typed(c, rule.field, rule.kind)
        if rule.kind == "text":
            return func.lower(value), _lower(rule.value)
        if rule.kind in ("number", "boolean"):
            return value, rule.value
        return value, _iso(rule.value)  # dates are stored as YYYY-MM-DD

    def _typed(self, c: FromClause, name: str, kind: str) -> ColumnElement[Any]:
        """The field's value as its kind reads it: from its own column where it has one."""
        value = document_value(c, name, kind)
        held_in = self.columns.get(name)
        if held_in is None:
            return value
        return ColumnClause(held_in, type_=value.type, _selectable=c)

    def _text_equality(self, rule: Condition, c: FromClause, known: Known) -> ColumnElement[bool]:
        """eq, ne, in, not_in on a text field, ignoring case; on SQLite mostly without `lower()`."""
        stored = self._typed(c, rule.field, rule.kind)
        values = [v.lower() for v in (rule.value if isinstance(rule.value, tuple) else (rule.value,))]
        matched = per_dialect(func.lower(stored).in_(values), sqlite=_caseless_in(stored, values))
        if rule.op in ("eq", "in"):
            return known(matched)
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
        test = _compare(ids.c.value, negated or rule.op, rule.value)
        found = exists(select(1).select_from(ids).where(*held, test))
        return ~found if negated else found


_EQUALITY = ("eq", "ne", "in", "not_in")


class without_index(FunctionElement):  # noqa: N801  (named like the SQL it stands for)
    """A value that SQLite must not look up through an index (rendered `+value` there), of the
    value's own type.

    Grouping matching contacts by address, SQLite would rather walk the address index to save a
    sort, and then fetch every contact's row in address order: a random read per contact. When
    the rule reads the contacts' field documents anyway, scanning the table in storage order and
    sorting only the matching rows is several times faster. PostgreSQL chooses well by itself.
    """

    inherit_cache = True

    def __init__(self, value: ColumnElement[Any]) -> None:
        super().__init__(value)
        self.type = value.type


@compiles(without_index)
def _without_index_sqlite(element: without_index, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(without_index, "postgresql")
def _without_index_postgresql(element: without_index, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


# A field name that can be written into the statement as it is (service.models.FIELD_NAME_PATTERN).
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class field_path(ColumnElement[str]):  # noqa: N801  (named like the SQL functions it stands for)
    """The path of a field in the contact's document, written out in the statement (not a bound
    parameter): an index on a field's value (`json_extract(attributes, '$."city"')`) serves only
    a statement that names the same path; SQLite does not look into parameters for it."""

    type = String()
    inherit_cache = True
    _traverse_internals = [("name", InternalTraversal.dp_string)]

    def __init__(self, name: str) -> None:
        assert _PLAIN_NAME.fullmatch(name), name
        self.name = name


@compiles(field_path)
def _field_path_default(element: field_path, compiler: SQLCompiler, **kw: Any) -> str:
    return f"'{element.name}'"


@compiles(field_path, "sqlite")
def _field_path_sqlite(element: field_path, compiler: SQLCompiler, **kw: Any) -> str:
    return f"""'$."{element.name}"'"""


def indexed_form(c: FromClause, name: str, kind: str, dialect: str) -> ColumnElement[Any]:
    """A field's value in the form that the bare tests of `RuleCompiler.condition` compare it (text
    as SQLite's NOCASE compares it, lower-cased elsewhere; other kinds as `_value` reads them): the
    expression an index on the field must hold to serve them (segments/field_indexes.py)."""
    value = document_value(c, name, kind)
    if kind == "text":
        return value.collate("NOCASE") if dialect == "sqlite" else func.lower(value)
    return value


def document_value(c: FromClause, name: str, kind: str) -> ColumnElement[Any]:
    """A field's value read from c's document as its kind reads it (text and dates as text)."""
    document = field_of(c, name)
    value: ColumnElement[Any] = (document.as_float() if kind == "number" else
                                 document.as_boolean() if kind == "boolean" else document.as_string())
    return value


def field_of(c: FromClause, name: str) -> Any:
    """The field's entry in c's document (`.as_string()` and so on give its value), its path written
    out when the name allows (every name the service accepts does), else a bound parameter."""
    document = c.c.attributes
    return document[field_path(name)] if _PLAIN_NAME.fullmatch(name) else document[name]


class per_dialect(FunctionElement):  # noqa: N801  (named like the SQL functions it stands for)
    """One of two equivalent tests, rendered by dialect: `sqlite` there, `default` elsewhere."""

    type = Boolean()
    inherit_cache = True
    # A test as it stands (as `a = b` is), not a value to compare with true (`... = 1` on SQLite,
    # which an index on the tested value could not serve).
    _is_implicitly_boolean = True

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
_MOST_SPELLED_KS = 3  # a value with more k's is matched through lower() (2 ** 3 spellings at most)


def _kelvin_spellings(value: str) -> list[str]:
    """`value` with each of its k's either kept or a Kelvin sign, when it has at most a few."""
    if value.count("k") > _MOST_SPELLED_KS:
        return [value]
    spellings = [""]
    for char in value:
        spellings = [s + c for s in spellings for c in ((char, _KELVIN) if char == "k" else (char,))]
    return spellings


def _caseless_in(stored: ColumnElement[Any], lowered: list[str]) -> ColumnElement[bool]:
    """`lower(stored) IN lowered` on SQLite, calling the Python `lower()` (segments/sqlite.py, about
    1.5 µs a row) only for the few stored values that need it.

    SQLite's NOCASE folds ASCII letters alone, in C. A stored value lowers to an ASCII value only
    when it is ASCII itself (then NOCASE decides) or holds Kelvin signs where the value has k's
    (NOCASE decides against each spelling with them); it lowers to a value outside ASCII only
    when it is outside ASCII itself (more characters than bytes). No NOCASE match can be wrong:
    a value equal to a spelling up to ASCII case lowers to the rule's value.
    """
    plain = [v for v in lowered if v.isascii()]
    other = [v for v in lowered if not v.isascii()]
    tests: list[ColumnElement[bool]] = []
    if plain:
        # A value with a few k's is also looked for with Kelvin signs in their places: one IN list,
        # which an index on the field serves (an `instr(...)` test beside it would make it a scan).
        tests.append(stored.collate("NOCASE").in_([s for v in plain for s in _kelvin_spellings(v)]))
        many = [v for v in plain if v.count("k") > _MOST_SPELLED_KS]
        if many:
            tests.append(and_(func.instr(stored, _KELVIN) > 0, func.lower(stored).in_(many)))
    if other:
        tests.append(and_(func.length(stored) != func.length(cast(stored, LargeBinary)),
                          func.lower(stored).in_(other)))
    return or_(*tests)


Known = Callable[[ColumnElement[bool]], ColumnElement[bool]]


def _false_if_null(test: ColumnElement[bool]) -> ColumnElement[bool]:
    """The test, false where a missing value makes it NULL (`coalesce` evaluates the value once;
    an `IS NULL` guard would extract it from the contact's document twice)."""
    return func.coalesce(test, false())


def _as_is(test: ColumnElement[bool]) -> ColumnElement[bool]:
    """The test itself, used only where NULL selects nothing (see `RuleCompiler.__call__`)."""
    return test


def _compare(column: ColumnElement[Any], op: str, value: Any,
             known: Known | None = None) -> ColumnElement[bool]:
    """`column op value`, two-valued: an empty value matches only ne and not_in. `known` makes the
    other tests of a value that may be missing (NULL) two-valued: `_false_if_null`, or `_as_is`
    where NULL selects nothing anyway (see `RuleCompiler.__call__`); None for a column never NULL."""
    if op in ("ne", "not_in"):
        test = column != value if op == "ne" else column.not_in(list(value))
        return func.coalesce(test, true()) if known is not None else test
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
    return known(test) if known is not None else test


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
