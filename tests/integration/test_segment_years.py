"""Ages in calendar years, compiled to SQL on both databases with "today" fixed.

The compiler is run straight against the contacts table, for days around the 29 February
boundaries; the same rules over the API use the real today (test_api_segment_years below).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from segments.compiler import RuleCompiler
from segments.rules import Catalog, parse_rules
from segments.tables import contacts
from tests.integration.segment_helpers import new_segment, recipients

BIRTHDAYS = {"a": "2008-02-28", "b": "2008-02-29", "c": "2008-03-01", "d": "2010-02-28",
             "e": "2010-03-01", "f": ""}
SETTINGS = {"match": {"by": "email"}, "mapping": {"E-mail": "email", "Geboren": "birthday"}}


@pytest.fixture
def people(make_tenant, import_rows, contacts_of):  # type: ignore[no-untyped-def]
    tenant = make_tenant("ages", fields={"birthday": "date"})
    rows = [["E-mail", "Geboren"], *([f"{k}@example.nl", v] for k, v in BIRTHDAYS.items())]
    import_rows(tenant, rows, SETTINGS)
    return tenant, {c["id"]: c["email"].split("@")[0] for c in contacts_of(tenant.id)}


def _matching(engine, people, op: str, years: int, today: date) -> set[str]:  # type: ignore[no-untyped-def]
    tenant, names = people
    catalog = Catalog(fields={"birthday": "date"}, links={})
    rule = parse_rules({"field": "birthday", "op": op, "value": years}, catalog)
    compiled = RuleCompiler(catalog, datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
    with engine.connect() as conn:
        found = conn.execute(select(contacts.c.id).where(
            contacts.c.account_id == tenant.id, compiled(rule, contacts))).scalars()
        return {names[i] for i in found}


@pytest.mark.parametrize(("today", "years", "older"), [
    (date(2026, 2, 27), 18, set()),
    (date(2026, 2, 28), 18, {"a", "b"}),  # 29 February counts as 28 February in 2026
    (date(2026, 3, 1), 18, {"a", "b", "c"}),
    (date(2028, 2, 28), 18, {"a", "b", "c", "d"}),  # 2010-02-28 turns 18 that day
    (date(2028, 2, 28), 20, {"a"}),  # 2028 is a leap year: 2008-02-29 waits a day
    (date(2028, 2, 29), 20, {"a", "b"}),
    (date(2028, 2, 29), 18, {"a", "b", "c", "d"}),
    (date(2028, 3, 1), 18, {"a", "b", "c", "d", "e"}),
])
def test_more_than_years_ago_is_exact_on_birthdays(engine, people, today, years, older):
    assert _matching(engine, people, "more_than_years_ago", years, today) == older
    # The rest (with a birthday, not in the future) are within those years; no date: neither.
    within = _matching(engine, people, "within_last_years", years, today)
    assert within == set(BIRTHDAYS) - older - {"f"}


def test_within_last_years_leaves_out_the_future(engine, people):
    assert _matching(engine, people, "within_last_years", 1, date(2008, 2, 29)) == {"a", "b"}
    assert _matching(engine, people, "more_than_years_ago", 0, date(2008, 2, 29)) == {"a", "b"}


def test_api_segment_years(client, make_tenant, import_rows):
    tenant = make_tenant("today", fields={"birthday": "date"})
    today = datetime.now(UTC).date()
    eighteen = today.replace(year=today.year - 18) if (today.month, today.day) != (2, 29) \
        else date(today.year - 18, 2, 28)
    rows = [["E-mail", "Geboren"], ["just@example.nl", eighteen.isoformat()],
            ["almost@example.nl", date.fromordinal(eighteen.toordinal() + 1).isoformat()]]
    import_rows(tenant, rows, SETTINGS)
    for op, expected in (("more_than_years_ago", {"just@example.nl"}),
                         ("within_last_years", {"almost@example.nl"})):
        segment = new_segment(client, tenant, {"field": "birthday", "op": op, "value": 18})
        assert {c["email"] for c in recipients(client, tenant, segment)} == expected
