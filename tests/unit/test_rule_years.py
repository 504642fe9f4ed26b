"""Calendar years in rules: the last day that makes someone N years old, at the boundaries."""

from __future__ import annotations

from datetime import date

import pytest

from segments.rules import Catalog, RuleError, parse_rules, years_before


@pytest.mark.parametrize(("today", "years", "last_day"), [
    (date(2026, 12, 2), 18, date(2008, 12, 2)),   # an ordinary day: the same day
    (date(2026, 3, 1), 18, date(2008, 3, 1)),
    # 28 February of a common year: a 29 February birthday falls on it, so that day counts too.
    (date(2026, 2, 28), 18, date(2008, 2, 29)),
    (date(2026, 2, 28), 17, date(2009, 2, 28)),  # a common year back: nothing to add
    # 29 February of a leap year, back to a common year: 28 February.
    (date(2028, 2, 29), 18, date(2010, 2, 28)),
    (date(2028, 2, 29), 20, date(2008, 2, 29)),  # leap year to leap year: the day itself
    # 28 February of a leap year: a 29 February birthday is tomorrow, not today.
    (date(2028, 2, 28), 20, date(2008, 2, 28)),
    (date(2026, 1, 1), 0, date(2026, 1, 1)),
])
def test_years_before_is_exact_on_birthdays(today, years, last_day):
    assert years_before(today, years) == last_day


CATALOG = Catalog(fields={"birthday": "date"}, links={})


@pytest.mark.parametrize("op", ["within_last_years", "more_than_years_ago"])
def test_years_take_whole_numbers(op):
    assert parse_rules({"field": "birthday", "op": op, "value": 18}, CATALOG).value == 18
    for bad in (-1, 1.5, "18", True, 1_001):
        with pytest.raises(RuleError, match="whole number of years") as caught:
            parse_rules({"field": "birthday", "op": op, "value": bad}, CATALOG)
        assert caught.value.expected == "whole_years"


def test_a_missing_date_reads_as_the_form_it_takes():
    with pytest.raises(RuleError) as caught:
        parse_rules({"field": "birthday", "op": "eq", "value": ""}, CATALOG)
    assert str(caught.value) == "rules.value: a date as 2026-12-31"
    assert caught.value.expected == "date"
