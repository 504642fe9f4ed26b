"""The rule tree of a segment: parsed from JSON and checked against an account's fields.

Checking happens before any SQL is built, so a bad rule is answered with a message that names
the part at fault (`rules.all[1].value: ...`), and the compiler only ever sees valid, typed rules.
A tree deeper or larger than its RuleLimits is refused (RuleLimitExceeded) as soon as the parse
reaches the level or condition past the limit, so a tree of any depth is refused without recursing
through it.
"""

from __future__ import annotations

import calendar
import math
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Union

from importer.rows import MAX_NUMBER
from importer.said import at, grouped, said, word
from importer.text import unstorable_character
from importer.vocabulary import ContactStatus

EXTERNAL_ID_PREFIX = "external_id."

# The kinds of values a rule can test, and the operators each kind allows.
_EQUALITY = ("eq", "ne", "in", "not_in")
_EMPTINESS = ("is_empty", "is_not_empty")
_ORDER = ("gt", "gte", "lt", "lte", "between")
_TEXT_MATCH = ("contains", "starts_with", "ends_with")
_RELATIVE_DAYS = ("within_last_days", "more_than_days_ago")
# Calendar years ("18 or older"): exact on birthdays, which a number of days cannot be.
YEAR_OPS = ("within_last_years", "more_than_years_ago")
_RELATIVE = YEAR_OPS + _RELATIVE_DAYS  # years first: what the builder offers first
MAX_YEARS = 1_000
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": _EQUALITY + _TEXT_MATCH + _ORDER + _EMPTINESS,
    "number": _EQUALITY + _ORDER + _EMPTINESS,
    "date": _EQUALITY + _ORDER + _RELATIVE + _EMPTINESS,
    "timestamp": _EQUALITY + _ORDER + _RELATIVE,
    "boolean": ("eq", "ne") + _EMPTINESS,
    "status": _EQUALITY,
    "external_id": _EQUALITY + _TEXT_MATCH + _EMPTINESS,
}

# The built-in fields (importer.vocabulary.BUILTIN_FIELDS) as rules compare them, and the address's
# domain; account fields bring their own type (text, number, date, boolean).
BUILTIN_KINDS = {
    "email": "text",
    "email_domain": "text",
    "status": "status",
    "created_at": "timestamp",
    "updated_at": "timestamp",
}

# Built-ins read from the contacts' indexed columns, not from their field documents.
INDEXED_FIELDS = frozenset({"email", "email_domain", "status"})

MAX_LIST = 10_000
MAX_TEXT = 1_000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RuleError(ValueError):
    """A rule that cannot be used; `where` names the part, e.g. `rules.all[1].value`.

    `expected` names the kind of value a condition wanted (date, number, ...), so that pages can
    say it in the reader's language.
    """

    def __init__(self, where: str, message: str, expected: str | None = None) -> None:
        super().__init__(at(where, message))
        self.where = where
        self.message = message  # without `where`: a page that names the part itself says this
        self.expected = expected


class RuleLimitExceeded(RuleError):
    """A rule tree past one of its RuleLimits; `limit` names the RuleLimits field."""

    def __init__(self, where: str, message: str, limit: str) -> None:
        super().__init__(where, message)
        self.limit = limit


@dataclass(frozen=True)
class RuleLimits:
    """How deep a rule tree may nest (groups and nots) and how many parts (conditions and groups)
    it may hold."""

    max_depth: int = 20
    max_conditions: int = 500


# The limits `parse_rules` applies to a rule tree that comes in (a request's) when it is given
# none: the service sets them for each app context from its settings.
DEFAULT_RULE_LIMITS = RuleLimits()
RULE_LIMITS: ContextVar[RuleLimits] = ContextVar("rule_limits")
# The deepest any setting lets a tree be: JSON's own nesting limit leaves room for it, and the
# parser recurses once per level.
DEEPEST = 40
# A tree the service stored was held to the limits of its day when it came in; read again, it is
# held only to what any setting allows. So lowering a limit never breaks a saved segment or a
# mailing under way, and work outside any request (the field indexes' keeper) reads them whole.
STORED_RULE_LIMITS = RuleLimits(max_depth=DEEPEST, max_conditions=2**63)


@dataclass(frozen=True)
class Catalog:
    """What rules may refer to in one account: its fields (name -> type) and links (name -> id)."""

    fields: dict[str, str]
    links: dict[str, int]

    def kind_of(self, name: str) -> str | None:
        """The kind of value `name` holds, or None when the account has no such field."""
        if name in BUILTIN_KINDS:
            return BUILTIN_KINDS[name]
        if name.startswith(EXTERNAL_ID_PREFIX):
            return "external_id" if name.removeprefix(EXTERNAL_ID_PREFIX) in self.links else None
        return self.fields.get(name)

    def names(self) -> list[str]:
        return [*BUILTIN_KINDS, *self.fields, *(EXTERNAL_ID_PREFIX + link for link in self.links)]


@dataclass(frozen=True)
class Condition:
    """One test of one field; `value` is typed: a list for in/not_in/between, dates as dates."""

    field: str
    kind: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    part: Rule


Rule = Union[AllOf, AnyOf, Not, Condition]  # noqa: UP007  (a runtime alias for the type checker)

EVERYONE = AllOf(())


def parse_rules(data: Any, catalog: Catalog, where: str = "rules", limits: RuleLimits | None = None) -> Rule:
    """Parse and check a rule tree; raise RuleError naming the first part that is wrong. `limits`:
    STORED_RULE_LIMITS for a stored tree; by default the limits set for the context (RULE_LIMITS)."""
    return _parse(data, catalog, where, 0, [0], limits or RULE_LIMITS.get(DEFAULT_RULE_LIMITS))


def _parse(data: Any, catalog: Catalog, where: str, depth: int, counter: list[int],
           limits: RuleLimits) -> Rule:
    if depth > limits.max_depth:
        raise RuleLimitExceeded(where, said("rules nest more than %(most)s levels deep",
                                            most=limits.max_depth), "max_depth")
    counter[0] += 1  # groups count too: a million empty groups are no smaller a tree
    if counter[0] > limits.max_conditions:
        raise RuleLimitExceeded(where, said("a rule tree has at most %(most)s conditions and "
                                            "groups", most=limits.max_conditions), "max_conditions")
    if not isinstance(data, dict):
        raise RuleError(where, said('expected an object such as {"all": [...]} or {"field": ..., "op": ...}'))
    groups = [key for key in ("all", "any", "not") if key in data]
    if groups:
        if len(data) != 1:
            raise RuleError(where, said("'%(groups)s' must be the only key of its object", groups=groups[0]))
        key = groups[0]
        if key == "not":
            return Not(_parse(data["not"], catalog, f"{where}.not", depth + 1, counter, limits))
        items = data[key]
        if not isinstance(items, list):
            raise RuleError(f"{where}.{key}", said("expected a list of rules"))
        parts = tuple(_parse(item, catalog, f"{where}.{key}[{i}]", depth + 1, counter, limits)
                      for i, item in enumerate(items))
        return AllOf(parts) if key == "all" else AnyOf(parts)
    return parse_condition(data, catalog, where)


def parse_condition(data: Any, catalog: Catalog, where: str) -> Condition:
    """Parse and check one condition `{"field", "op", "value"}`."""
    if not isinstance(data, dict) or "field" not in data or "op" not in data:
        raise RuleError(where, said('expected a condition {"field": ..., "op": ..., "value": ...} or a '
                                    'group {"all"|"any": [...]} / {"not": {...}}'))
    unknown = set(data) - {"field", "op", "value"}
    if unknown:
        raise RuleError(where, said("unknown key(s): %(unknown)s", unknown=', '.join(sorted(unknown))))
    name, op = data["field"], data["op"]
    if not isinstance(name, str) or (kind := catalog.kind_of(name)) is None:
        raise RuleError(f"{where}.field", said("unknown field %(name)s; this account has: %(fields)s",
                                               name=repr(name), fields=', '.join(catalog.names())))
    if op not in OPERATORS[kind]:
        raise RuleError(f"{where}.op", said("%(op)s does not apply to %(name)s (%(kind)s); use one of "
                                            "%(operators)s",
                                            op=repr(op), name=name, kind=word(kind),
                                            operators=', '.join(OPERATORS[kind])))
    value = _parse_value(kind, op, data.get("value"), f"{where}.value")
    return Condition(name, kind, op, value)


def _parse_value(kind: str, op: str, value: Any, where: str) -> Any:
    if op in _EMPTINESS:
        return None
    if op in _RELATIVE:
        years = op in YEAR_OPS
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= (
                MAX_YEARS if years else 100_000):
            unit = "years" if years else "days"
            raise RuleError(where, said("%(op)s takes a whole number of %(unit)s (0 or more)",
                                        op=op, unit=word(unit)), f"whole_{unit}")
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RuleError(where, said("%(op)s takes a non-empty list of values", op=op), "list")
        if len(value) > MAX_LIST:
            raise RuleError(where, said("%(op)s takes at most %(most)s values", op=op, most=MAX_LIST))
        return tuple(_scalar(kind, item, f"{where}[{i}]") for i, item in enumerate(value))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(where, said("between takes a list of two values, [low, high]"))
        low, high = (_scalar(kind, item, f"{where}[{i}]") for i, item in enumerate(value))
        if _is_empty_range(kind, low, high):
            raise RuleError(where, said("between takes [low, high] with low not above high"))
        return (low, high)
    return _scalar(kind, value, where)


def _is_empty_range(kind: str, low: Any, high: Any) -> bool:
    if kind == "text":
        return bool(low.lower() > high.lower())  # text compares ignoring case
    if kind == "timestamp":
        return day_start(low) >= day_end(high)  # a date runs to the end of its day
    return bool(low > high)


def day_start(value: date | datetime) -> datetime:
    """The first moment a rule's value stands for (a date: its midnight, UTC)."""
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def day_end(value: date | datetime) -> datetime:
    """The first moment after a rule's value (a date: the next midnight; a moment: 1 µs on)."""
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    return day_start(value) + timedelta(days=1)


def _scalar(kind: str, value: Any, where: str) -> Any:
    if kind in ("text", "external_id"):
        if not isinstance(value, str):
            raise RuleError(where, said("expected a text value"), "text")
        if len(value) > MAX_TEXT:
            raise RuleError(where, said("a text value has at most %(most)s characters",
                                        most=MAX_TEXT))
        unstorable = unstorable_character(value)
        if unstorable:  # no stored value holds one, and the databases fail on it
            raise RuleError(where, said("a text value cannot hold %(unstorable)s", unstorable=unstorable))
        return value.strip()
    if kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise RuleError(where, said("expected a number, such as 42"), "number")
        # No field holds such a number (imports refuse them), and the databases overflow on it.
        if not math.isfinite(value) or abs(value) >= MAX_NUMBER:
            raise RuleError(where, said("a number is at most %(most)s either way",
                                        most=grouped(MAX_NUMBER - 1)))
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise RuleError(where, said("expected true or false"), "boolean")
        return value
    if kind == "status":
        if value not in tuple(ContactStatus):
            raise RuleError(where, said("expected one of %(statuses)s",
                                        statuses=', '.join(ContactStatus)))
        return value
    if kind == "date":
        return _date(value, where)
    return _timestamp(value, where)


def _date(value: Any, where: str) -> date:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if value in ("", None):
        raise RuleError(where, said("a date as 2026-12-31"), "date")
    raise RuleError(where, said("a date as 2026-12-31, not %(value)s", value=repr(value)), "date")


def _timestamp(value: Any, where: str) -> date | datetime:
    """A date (the whole day) or an ISO 8601 date-time (UTC unless it says otherwise)."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        return _date(value, where)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            # Stored times are UTC; SQLite compares them as text, so the bound value must be too.
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise RuleError(where, said("a date as 2026-12-31 or an ISO 8601 date-time, not %(value)s",
                                value=repr(value)), "date")


def years_before(today: date, years: int) -> date:
    """The same day `years` years before `today`: the last day a birthday then makes one `years` old.

    29 February counts as 28 February in other years: on 28 February of a common year, someone born
    on 29 February of a leap year has their birthday, so that day is the one returned.
    """
    year = today.year - years
    leap = calendar.isleap(year)
    if today.month == 2 and today.day == 29 and not leap:
        return date(year, 2, 28)
    if today.month == 2 and today.day == 28 and leap and not calendar.isleap(today.year):
        return date(year, 2, 29)
    return today.replace(year=year)


def mentions_status(rule: Rule) -> bool:
    """Tell whether the rule tests `status`: then it, not the default, decides who is mailable."""
    return "status" in fields_in(rule)


def fields_in(rule: Rule) -> set[str]:
    """The fields a rule tests."""
    if isinstance(rule, Condition):
        return {rule.field}
    if isinstance(rule, Not):
        return fields_in(rule.part)
    return {name for part in rule.parts for name in fields_in(part)}
