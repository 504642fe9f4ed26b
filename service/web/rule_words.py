"""Rules in a person's words: the names of fields and operators, and rule errors said readably."""

from __future__ import annotations

import re
from typing import Any

from flask import g

from segments.rules import Catalog
from service.db import session as db_session
from service.domain.accounts import fields_of, links_of
from service.errors import InvalidInput
from service.http_errors import in_words
from service.web.field_words import field_label
from service.words import gettext, lazy_gettext, say, without_part

BUILTIN_LABELS = {
    "email": lazy_gettext("E-mail address"),
    "email_domain": lazy_gettext("E-mail domain"),
    "status": lazy_gettext("Status"),
    "created_at": lazy_gettext("Added on"),
    "updated_at": lazy_gettext("Last updated"),
}

# How the builder names each operator; the operators a field offers come from rules.OPERATORS.
# "…" stands for the value: a saved condition is shown with its value in its place.
OPERATOR_LABELS = {
    "eq": lazy_gettext("is"), "ne": lazy_gettext("is not"), "in": lazy_gettext("is one of"),
    "not_in": lazy_gettext("is none of"), "contains": lazy_gettext("contains"),
    "starts_with": lazy_gettext("starts with"), "ends_with": lazy_gettext("ends with"),
    "gt": lazy_gettext("is above / after"), "gte": lazy_gettext("is at least / on or after"),
    "lt": lazy_gettext("is below / before"), "lte": lazy_gettext("is at most / on or before"),
    "between": lazy_gettext("is between"), "is_empty": lazy_gettext("is empty"),
    "is_not_empty": lazy_gettext("has a value"),
    "within_last_days": lazy_gettext("within the last … days"),
    "more_than_days_ago": lazy_gettext("more than … days ago"),
    # For a birth date these read as ages: exact on the birthday.
    "more_than_years_ago": lazy_gettext("at least … years ago (… or older)"),
    "within_last_years": lazy_gettext("less than … years ago (younger than …)"),
}

# What a condition wanted, by RuleError.expected, in the reader's language.
EXPECTED = {
    "date": lazy_gettext("a date as 2026-12-31"),
    "number": lazy_gettext("a number, such as 42"),
    "whole_years": lazy_gettext("a whole number of years, such as 18"),
    "whole_days": lazy_gettext("a whole number of days, such as 30"),
    "list": lazy_gettext("one or more values, separated by commas"),
    "text": lazy_gettext("a text"),
    "boolean": lazy_gettext("yes or no"),
}
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")


def field_labels(catalog: Catalog) -> dict[str, str]:
    """Each field rules may name, as people call it (service/web/field_words.py)."""
    session = db_session()
    labels = {name: str(label) for name, label in BUILTIN_LABELS.items()}
    labels.update({f.name: field_label(f) for f in fields_of(session, g.account.id)})
    labels.update({f"external_id.{link.name}": gettext("%(label)s (ID in “%(name)s”)", label=link.label,
                                                      name=link.name)
                   for link in links_of(session, g.account.id)})
    return {name: labels.get(name, name) for name in catalog.names()}


def readable_error(problem: InvalidInput, rules: Any, labels: dict[str, str]) -> str:
    """A rule error as its reader can act on it ("Birth date: give a date as 2026-12-31."), or
    the engine's own message, in the page's language, named by the field it is about."""
    expected = EXPECTED.get(problem.expected or "")
    field = _field_at(rules, problem.part or "")
    if expected is None:
        if field is None:
            return in_words(problem.message)
        return gettext("%(field)s: %(problem)s.", field=labels.get(field, field),
                       problem=say(without_part(problem.message)))
    if field is None:
        return gettext("Give %(expected)s.", expected=expected)
    return gettext("%(field)s: give %(expected)s.", field=labels.get(field, field), expected=expected)


def _field_at(rules: Any, where: str) -> str | None:
    """The field of the condition that `where` (rules.all[1].value) points into."""
    node = rules
    for key, index in _STEP.findall(where.removeprefix("rules")):
        if isinstance(node, dict) and isinstance(node.get("field"), str):
            break
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node.get("field") if isinstance(node, dict) and isinstance(node.get("field"), str) else None
