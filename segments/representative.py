"""The representative rule: which contact at a shared address receives the mail.

A rule orders the contacts at one address; the first one is the representative. Every rule ends
with the lowest contact id, so the choice is deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, or_
from sqlalchemy.sql import ColumnElement, FromClause

from importer.said import said
from segments.compiler import RuleCompiler
from segments.rules import (
    Catalog,
    Rule,
    RuleError,
    RuleLimitExceeded,
    RuleLimits,
    parse_condition,
    parse_rules,
)

RULES = ("most_recently_updated", "oldest", "prefer", "prefer_non_empty")


@dataclass(frozen=True)
class RepresentativeRule:
    rule: str = "most_recently_updated"
    when: Rule | None = None  # for prefer: contacts matching it win
    field: str | None = None  # for prefer_non_empty: contacts with a value win
    source: Any = None  # the JSON it was parsed from, to store and show as given

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"rule": self.rule}
        if self.rule == "prefer":
            document["when"] = self.source.get("when") if isinstance(self.source, dict) else None
        if self.rule == "prefer_non_empty":
            document["field"] = self.field
        return document


DEFAULT = RepresentativeRule()


def parse_representative(data: Any, catalog: Catalog, where: str = "representative",
                         limits: RuleLimits | None = None) -> RepresentativeRule:
    """Parse a rule given as its name, as JSON text (a query parameter) or as an object; `limits`
    as for parse_rules."""
    if data is None or data == "":
        return DEFAULT
    if isinstance(data, str) and data.lstrip().startswith("{"):
        try:
            data = json.loads(data)
        except ValueError:
            raise RuleError(where, said("is not valid JSON")) from None
        except RecursionError:  # json recurses once per level: a text nested thousands deep
            raise RuleLimitExceeded(where, said("nests too deep to be read"), "max_depth") from None
    if isinstance(data, str):
        data = {"rule": data}
    if not isinstance(data, dict) or data.get("rule") not in RULES:
        raise RuleError(where, said('expected one of %(rules)s, or {"rule": ..., "when": <condition>} / '
                                    '{"rule": ..., "field": <field>}', rules=', '.join(RULES)))
    rule = data["rule"]
    if rule == "prefer":
        if "when" not in data:
            raise RuleError(where, said('prefer needs "when": the condition that makes a contact win'))
        return RepresentativeRule(rule, when=parse_rules(data["when"], catalog, f"{where}.when", limits),
                                  source=data)
    if rule == "prefer_non_empty":
        condition = parse_condition({"field": data.get("field"), "op": "is_not_empty"}, catalog,
                                    where)
        return RepresentativeRule(rule, field=condition.field, when=condition, source=data)
    return RepresentativeRule(rule, source=data)


def ranking(rule: RepresentativeRule, compiler: RuleCompiler, c: FromClause
            ) -> list[tuple[ColumnElement[Any], bool]]:
    """The keys that order the contacts at one address, best first: (expression, descending)."""
    if rule.rule == "most_recently_updated":
        keys: list[tuple[ColumnElement[Any], bool]] = [(c.c.updated_at, True)]
    elif rule.rule == "oldest":
        keys = [(c.c.created_at, False)]
    else:
        assert rule.when is not None
        keys = [(case((compiler(rule.when, c), 1), else_=0), True)]
    return [*keys, (c.c.id, False)]


def outranks(rule: RepresentativeRule, compiler: RuleCompiler, o: FromClause, c: FromClause
             ) -> ColumnElement[bool]:
    """True where contact `o` comes before contact `c` by the rule (a strict order: ids differ)."""
    pairs = list(zip(ranking(rule, compiler, o), ranking(rule, compiler, c), strict=True))
    (last_o, _), (last_c, _) = pairs[-1]
    before = last_o < last_c
    for (key_o, descending), (key_c, _) in reversed(pairs[:-1]):
        ahead = key_o > key_c if descending else key_o < key_c
        before = or_(ahead, and_(key_o == key_c, before))
    return before

