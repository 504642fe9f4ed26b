"""The rule tree without a database: parsing, typing of values, and the messages of bad rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from segments.representative import parse_representative
from segments.rules import (
    AllOf,
    AnyOf,
    Catalog,
    Condition,
    Not,
    RuleError,
    fields_in,
    mentions_status,
    parse_rules,
)

CATALOG = Catalog(fields={"city": "text", "points": "number", "birth_date": "date", "vip": "boolean"},
                  links={"crm": 1})


def test_a_tree_parses_into_typed_nodes():
    rule = parse_rules({"all": [
        {"field": "city", "op": "in", "value": [" Utrecht ", "Ede"]},
        {"any": [{"field": "points", "op": "between", "value": [1, 2.5]},
                 {"not": {"field": "birth_date", "op": "lt", "value": "2000-01-31"}}]},
    ]}, CATALOG)
    assert rule == AllOf((
        Condition("city", "text", "in", ("Utrecht", "Ede")),
        AnyOf((Condition("points", "number", "between", (1, 2.5)),
               Not(Condition("birth_date", "date", "lt", date(2000, 1, 31))))),
    ))
    assert fields_in(rule) == {"city", "points", "birth_date"}
    assert not mentions_status(rule)


def test_timestamps_take_dates_or_moments_in_utc():
    rule = parse_rules({"field": "created_at", "op": "between",
                        "value": ["2026-01-05T12:00:00+02:00", "2026-01-05"]}, CATALOG)
    assert rule.value == (datetime(2026, 1, 5, 10, tzinfo=UTC), date(2026, 1, 5))


@pytest.mark.parametrize("rules,where,words", [
    ({"all": [{"field": "shoe", "op": "eq", "value": 1}]}, "rules.all[0].field", "unknown field 'shoe'"),
    ({"all": [{"field": "vip", "op": "gt", "value": True}]}, "rules.all[0].op", "does not apply"),
    ({"field": "points", "op": "eq", "value": "12"}, "rules.value", "expected a number"),
    ({"field": "points", "op": "eq", "value": True}, "rules.value", "expected a number"),
    ({"field": "birth_date", "op": "eq", "value": "31-12-1999"}, "rules.value", "a date as 2026-12-31"),
    ({"field": "points", "op": "between", "value": [5, 1]}, "rules.value", "low not above high"),
    ({"field": "city", "op": "in", "value": []}, "rules.value", "non-empty list"),
    ({"field": "birth_date", "op": "within_last_days", "value": -1}, "rules.value", "whole number"),
    ({"field": "status", "op": "eq", "value": "gone"}, "rules.value", "active, unsubscribed, bounced"),
    ({"field": "external_id.shop", "op": "eq", "value": "1"}, "rules.field", "unknown field"),
    ({"any": {"field": "city"}}, "rules.any", "a list of rules"),
    ({"all": [], "any": []}, "rules", "only key"),
    ({"field": "city", "op": "eq", "value": "x", "extra": 1}, "rules", "unknown key"),
    ([1, 2], "rules", "expected an object"),
    # Beyond any stored number (the databases overflow on them), and text no database stores.
    ({"field": "points", "op": "gt", "value": 2**63}, "rules.value", "at most"),
    ({"field": "points", "op": "in", "value": [1, -(2**63)]}, "rules.value[1]", "at most"),
    ({"field": "points", "op": "lt", "value": 1e308}, "rules.value", "at most"),
    ({"field": "points", "op": "lt", "value": float("nan")}, "rules.value", "at most"),
    ({"field": "city", "op": "eq", "value": "a\x00"}, "rules.value", "NUL"),
    ({"field": "city", "op": "contains", "value": "\ud800"}, "rules.value", "lone surrogate"),
])
def test_bad_rules_name_the_part_at_fault(rules, where, words):
    with pytest.raises(RuleError) as raised:
        parse_rules(rules, CATALOG)
    assert raised.value.where == where
    assert words in str(raised.value)


def test_a_status_condition_anywhere_lets_the_rules_decide():
    assert mentions_status(parse_rules({"not": {"any": [{"field": "status", "op": "eq",
                                                          "value": "bounced"}]}}, CATALOG))


@pytest.mark.parametrize("given,rule", [
    (None, "most_recently_updated"), ("oldest", "oldest"),
    ('{"rule": "prefer_non_empty", "field": "city"}', "prefer_non_empty"),
    ({"rule": "prefer", "when": {"field": "vip", "op": "eq", "value": True}}, "prefer"),
])
def test_representative_rules_parse_from_names_json_or_objects(given, rule):
    assert parse_representative(given, CATALOG).rule == rule


@pytest.mark.parametrize("given,words", [
    ("newest", "expected one of"), ("{oops", "not valid JSON"),
    ({"rule": "prefer"}, "needs \"when\""),
    ({"rule": "prefer_non_empty", "field": "status"}, "does not apply"),
    ('{"rule": "prefer", "when": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deep"),
    ({"rule": "prefer", "when": {"field": "points", "op": "gt", "value": 2**63}}, "at most"),
])
def test_bad_representative_rules_are_refused(given, words):
    with pytest.raises(RuleError, match=words):
        parse_representative(given, CATALOG)


def test_rules_know_every_built_in_field_and_the_address_domain():
    from importer.vocabulary import BUILTIN_FIELDS
    from segments.rules import BUILTIN_KINDS

    assert set(BUILTIN_KINDS) == {*BUILTIN_FIELDS, "email_domain"}
