"""Segment rules over the API: every operator on every kind of field, nesting, and the errors.

A small, hand-made dataset in an external-ID account; each rule is saved as a segment and its
matching contacts are read from the send list with the opt-in (allow_shared_address=true), so no
collapse hides a contact. Contacts are named by their CRM ID (K1..K7). Every rule is checked
together with its negation: {"not": C} must match exactly the contacts C does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from segments.collapse import _preview_query
from service.domain.field_indexes import reconcile
from service.domain.segments import segment_audience
from service.models import Account, Segment
from tests.integration.segment_helpers import (
    add_external_id,
    drop_field_indexes,
    new_segment,
    preview,
    recipients,
    set_contacts,
)

FIELDS = {"first_name": "text", "city": "text", "orders": "number", "birthday": "date",
          "vip": "boolean", "last_order": "date"}
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
          "mapping": {"E-mail": "email", "Voornaam": "first_name", "Stad": "city", "Orders": "orders",
                      "Geboren": "birthday", "VIP": "vip", "LaatsteOrder": "last_order"}}
EVERYONE = {"K1", "K2", "K3", "K4", "K5", "K6", "K7"}


def _today() -> datetime:
    return datetime.now(UTC)


def _day(offset: int) -> str:
    return (_today().date() + timedelta(days=offset)).isoformat()


def _rows() -> list[list[str]]:
    return [
        ["KlantNr", "E-mail", "Voornaam", "Stad", "Orders", "Geboren", "VIP", "LaatsteOrder"],
        ["K1", "anna@example.nl", "Anna", "Amsterdam", "12", "1990-05-17", "ja", _day(0)],
        ["K2", "Bob@Example.COM", "bob", "Rotterdam", "2,5", "31-12-1985", "nee", _day(-3)],
        ["K3", "carla@mail.example.nl", "Carla", "amsterdam-noord", "0", "2000-01-01", "", _day(-7)],
        # K4 shares K1's inbox (the address key is lower-cased as a whole).
        ["K4", "ANNA@example.nl", "Anna-Maria", "", "-3", "", "ja", _day(-8)],
        ["K5", "dirk_100%@post.org", "", "Den_Haag", "1000", "1990-05-18", "nee", _day(2)],
        ["K6", "eva@EXAMPLE.org", "Eva", "Den Haag", "100", "1990-05-16", "", ""],
        ["K7", "frank@other.net", "", "", "", "", "", ""],
    ]


@dataclass
class Shop:
    tenant: object
    ids: dict[str, int]  # CRM ID -> contact id


@pytest.fixture
def shop(make_tenant, import_rows, contacts_of, engine):  # type: ignore[no-untyped-def]
    tenant = make_tenant("shop", "external_id", links={"crm": None, "shop": None}, fields=FIELDS)
    job = import_rows(tenant, _rows(), BY_CRM)
    assert (job["report"]["created"], job["report"]["rejected"]) == (7, 0), job["report"]
    ids = {c["ids"]["crm"]: c["id"] for c in contacts_of(tenant.id)}
    assert set(ids) == EVERYONE
    # The second link: IDs compare exactly (case too), and merged IDs count.
    add_external_id(engine, tenant.id, "shop", ids["K1"], "S-1")
    add_external_id(engine, tenant.id, "shop", ids["K2"], "s-2")
    add_external_id(engine, tenant.id, "shop", ids["K3"], "S-3")
    add_external_id(engine, tenant.id, "shop", ids["K3"], "S-3-OLD", merged=True)
    add_external_id(engine, tenant.id, "shop", ids["K5"], "S-5")
    return Shop(tenant, ids)


@pytest.fixture(autouse=True)
def no_field_indexes_left(engine):  # type: ignore[no-untyped-def]
    yield
    drop_field_indexes(engine)


def _reach(client, tenant, segment_id: int) -> tuple[dict, list[str]]:  # type: ignore[no-untyped-def]
    found = recipients(client, tenant, segment_id, allow_shared_address=True)
    return preview(client, tenant, segment_id), [c["external_ids"]["crm"] for c in found]


def _matching(client, tenant, rules) -> set[str]:  # type: ignore[no-untyped-def]
    """Whom the rules reach; the same (preview and send list) once the field indexes the segment
    wants are built, as the workers build them (on SQLite read from the fields' own columns)."""
    segment_id = new_segment(client, tenant, rules)
    counts, crm = _reach(client, tenant, segment_id)
    assert len(crm) == len(set(crm)), f"a contact listed twice for {rules}: {crm}"
    engine = client.application.extensions["safeguard.engine"]
    reconcile(engine)
    assert _reach(client, tenant, segment_id) == (counts, crm), f"the field indexes change {rules}"
    _same_counts_either_way(engine, tenant.id, segment_id)
    return set(crm)


def _same_counts_either_way(engine, account_id: int, segment_id: int) -> None:  # type: ignore[no-untyped-def]
    """The preview's two statements count alike: one walk of the contacts in address order (SQLite's,
    where one index holds what the rules read) and the grouping of the matching contacts."""
    with Session(engine) as session:
        account, segment = session.get(Account, account_id), session.get(Segment, segment_id)
        audience = segment_audience(session, account, segment)
        walked, grouped = (tuple(int(v or 0) for v in session.connection().execute(
            _preview_query(audience, dialect)).one()) for dialect in ("sqlite", "other"))
    assert walked == grouped, segment.rules


def _check(client, tenant, cases: list[tuple[dict, set[str]]], everyone: set[str] = EVERYONE) -> None:  # type: ignore[no-untyped-def]
    """Each rule matches exactly the expected contacts, and its negation exactly the others."""
    wrong = []
    for rules, expected in cases:
        got = _matching(client, tenant, rules)
        if got != expected:
            wrong.append(f"{rules}: expected {sorted(expected)}, got {sorted(got)}")
        negated = _matching(client, tenant, {"not": rules})
        if negated != everyone - expected:
            wrong.append(f"not {rules}: expected {sorted(everyone - expected)}, got {sorted(negated)}")
    assert not wrong, "\n".join(wrong)


def _c(field: str, op: str, value: object = None) -> dict:
    rule = {"field": field, "op": op}
    if value is not None:
        rule["value"] = value
    return rule


# --- every operator on every kind ------------------------------------------------------------------


def test_text_operators_ignore_case(client, shop):
    t = "first_name"  # Anna, bob, Carla, Anna-Maria, -, Eva, -
    _check(client, shop.tenant, [
        (_c(t, "eq", "ANNA"), {"K1"}),
        (_c(t, "eq", "  anna "), {"K1"}),  # a value is trimmed like a cell
        (_c(t, "ne", "anna"), {"K2", "K3", "K4", "K5", "K6", "K7"}),
        (_c(t, "in", ["anna", "EVA", "nobody"]), {"K1", "K6"}),
        (_c(t, "not_in", ["anna", "eva"]), {"K2", "K3", "K4", "K5", "K7"}),
        (_c(t, "contains", "AN"), {"K1", "K4"}),
        (_c(t, "starts_with", "c"), {"K3"}),
        (_c(t, "ends_with", "A"), {"K1", "K3", "K4", "K6"}),
        (_c(t, "gt", "BOB"), {"K3", "K6"}),
        (_c(t, "gte", "bob"), {"K2", "K3", "K6"}),
        (_c(t, "lt", "Bob"), {"K1", "K4"}),
        (_c(t, "lte", "anna"), {"K1"}),
        (_c(t, "between", ["B", "carla"]), {"K2", "K3"}),
        (_c(t, "is_empty"), {"K5", "K7"}),
        (_c(t, "is_not_empty"), {"K1", "K2", "K3", "K4", "K6"}),
    ])


def test_between_bounds_ignore_case_too(client, shop):
    """[low, high] is checked the way values compare: "bob" to "CARLA" is a proper range."""
    _check(client, shop.tenant, [
        (_c("first_name", "between", ["bob", "CARLA"]), {"K2", "K3"}),
        (_c("email", "between", ["bob@example.com", "Carla@mail.example.nl"]), {"K2", "K3"}),
    ])


def test_text_matching_takes_wildcards_literally(client, shop):
    c = "city"  # Amsterdam, Rotterdam, amsterdam-noord, -, Den_Haag, Den Haag, -
    _check(client, shop.tenant, [
        (_c(c, "contains", "n_h"), {"K5"}),  # '_' is no LIKE wildcard: "Den Haag" does not match
        (_c(c, "contains", "%"), set()),
        (_c(c, "starts_with", "_"), set()),
        (_c(c, "starts_with", "AMSTERDAM"), {"K1", "K3"}),
        (_c(c, "ends_with", "DAM"), {"K1", "K2"}),
        (_c(c, "is_empty"), {"K4", "K7"}),  # an empty cell stores no value
        (_c("email", "contains", "_100%"), {"K5"}),
        (_c("email", "contains", "%@"), {"K5"}),
        (_c("email", "starts_with", "%"), set()),
    ])


def test_text_ignores_case_beyond_ascii(client, make_tenant, import_rows):
    """Names such as Élodie and Zoë: case is ignored for every letter, not only A-Z."""
    tenant = make_tenant("accents", "external_id", links={"crm": None}, fields={"first_name": "text"})
    rows = [["KlantNr", "E-mail", "Voornaam"], ["K1", "elodie@example.nl", "Élodie"],
            ["K2", "elodie2@example.nl", "ÉLODIE"], ["K3", "zoe@example.nl", "Zoë"],
            ["K4", "emile@example.nl", "emile"]]
    import_rows(tenant, rows, {"match": BY_CRM["match"],
                               "mapping": {"E-mail": "email", "Voornaam": "first_name"}})
    f = "first_name"
    _check(client, tenant, [
        (_c(f, "eq", "élodie"), {"K1", "K2"}),
        (_c(f, "in", ["ÉLODIE", "ZOË"]), {"K1", "K2", "K3"}),
        (_c(f, "starts_with", "é"), {"K1", "K2"}),
        (_c(f, "contains", "Ë"), {"K3"}),
        (_c(f, "ne", "élodie"), {"K3", "K4"}),
    ], everyone={"K1", "K2", "K3", "K4"})


def test_number_operators_compare_numbers(client, shop):
    n = "orders"  # 12, 2.5, 0, -3, 1000, 100, -
    _check(client, shop.tenant, [
        (_c(n, "eq", 12), {"K1"}),
        (_c(n, "eq", 12.0), {"K1"}),
        (_c(n, "eq", 2.5), {"K2"}),
        (_c(n, "eq", 0), {"K3"}),
        (_c(n, "ne", 12), {"K2", "K3", "K4", "K5", "K6", "K7"}),
        (_c(n, "in", [0, 100]), {"K3", "K6"}),
        (_c(n, "not_in", [0, 100]), {"K1", "K2", "K4", "K5", "K7"}),
        (_c(n, "gt", 2.5), {"K1", "K5", "K6"}),
        (_c(n, "gt", 99), {"K5", "K6"}),  # as numbers: 100 and 1000 are above 99, 12 is not
        (_c(n, "gte", 2.5), {"K1", "K2", "K5", "K6"}),
        (_c(n, "lt", 0), {"K4"}),
        (_c(n, "lte", 0), {"K3", "K4"}),
        (_c(n, "between", [0, 12]), {"K1", "K2", "K3"}),
        (_c(n, "between", [-3, -3]), {"K4"}),
        (_c(n, "is_empty"), {"K7"}),
        (_c(n, "is_not_empty"), EVERYONE - {"K7"}),
    ])


def test_date_operators(client, shop):
    d = "birthday"  # 1990-05-17, 1985-12-31, 2000-01-01, -, 1990-05-18, 1990-05-16, -
    _check(client, shop.tenant, [
        (_c(d, "eq", "1990-05-17"), {"K1"}),
        (_c(d, "eq", "1985-12-31"), {"K2"}),  # imported day-first as 31-12-1985
        (_c(d, "ne", "1990-05-17"), {"K2", "K3", "K4", "K5", "K6", "K7"}),
        (_c(d, "in", ["1985-12-31", "2000-01-01"]), {"K2", "K3"}),
        (_c(d, "not_in", ["1985-12-31", "2000-01-01"]), {"K1", "K4", "K5", "K6", "K7"}),
        (_c(d, "gt", "1990-05-17"), {"K3", "K5"}),
        (_c(d, "gte", "1990-05-17"), {"K1", "K3", "K5"}),
        (_c(d, "lt", "1990-05-17"), {"K2", "K6"}),
        (_c(d, "lte", "1990-05-17"), {"K1", "K2", "K6"}),
        (_c(d, "between", ["1990-05-16", "1990-05-18"]), {"K1", "K5", "K6"}),
        (_c(d, "is_empty"), {"K4", "K7"}),
        (_c(d, "is_not_empty"), {"K1", "K2", "K3", "K5", "K6"}),
    ])


def test_relative_date_operators(client, shop):
    r = "last_order"  # today, today-3, today-7, today-8, today+2, -, -
    _check(client, shop.tenant, [
        (_c(r, "within_last_days", 7), {"K1", "K2", "K3"}),  # from today-7 up to today, not the future
        (_c(r, "within_last_days", 0), {"K1"}),
        (_c(r, "within_last_days", 3), {"K1", "K2"}),
        (_c(r, "more_than_days_ago", 7), {"K4"}),  # before today-7
        (_c(r, "more_than_days_ago", 2), {"K2", "K3", "K4"}),
        (_c(r, "more_than_days_ago", 3), {"K3", "K4"}),
        (_c(r, "more_than_days_ago", 0), {"K2", "K3", "K4"}),
        (_c(r, "eq", _day(0)), {"K1"}),
        (_c(r, "gt", _day(0)), {"K5"}),
    ])


def test_boolean_operators(client, shop):
    b = "vip"  # true, false, -, true, false, -, -
    _check(client, shop.tenant, [
        (_c(b, "eq", True), {"K1", "K4"}),
        (_c(b, "eq", False), {"K2", "K5"}),
        (_c(b, "ne", True), {"K2", "K3", "K5", "K6", "K7"}),
        (_c(b, "ne", False), {"K1", "K3", "K4", "K6", "K7"}),
        (_c(b, "is_empty"), {"K3", "K6", "K7"}),
        (_c(b, "is_not_empty"), {"K1", "K2", "K4", "K5"}),
    ])


def test_email_compares_the_address_key(client, shop):
    e = "email"  # keys: anna@example.nl (K1, K4), bob@example.com, carla@mail.example.nl,
    #              dirk_100%@post.org, eva@example.org, frank@other.net
    _check(client, shop.tenant, [
        (_c(e, "eq", "ANNA@Example.NL"), {"K1", "K4"}),
        (_c(e, "eq", " bob@example.com "), {"K2"}),
        (_c(e, "ne", "anna@example.nl"), {"K2", "K3", "K5", "K6", "K7"}),
        (_c(e, "in", ["bob@example.com", "EVA@example.org"]), {"K2", "K6"}),
        (_c(e, "not_in", ["bob@example.com", "EVA@example.org"]), {"K1", "K3", "K4", "K5", "K7"}),
        (_c(e, "contains", "EXAMPLE"), {"K1", "K2", "K3", "K4", "K6"}),
        (_c(e, "starts_with", "A"), {"K1", "K4"}),
        (_c(e, "ends_with", ".ORG"), {"K5", "K6"}),
        (_c(e, "gt", "d"), {"K5", "K6", "K7"}),
        (_c(e, "gte", "eva@example.org"), {"K6", "K7"}),
        (_c(e, "lt", "bob@example.com"), {"K1", "K4"}),
        (_c(e, "lte", "bob@example.com"), {"K1", "K2", "K4"}),
        (_c(e, "between", ["bob@example.com", "carla@mail.example.nl"]), {"K2", "K3"}),
        (_c(e, "is_empty"), set()),
        (_c(e, "is_not_empty"), EVERYONE),
    ])


def test_email_domain_is_what_follows_the_at_sign(client, shop):
    d = "email_domain"  # example.nl (K1, K4), example.com, mail.example.nl, post.org, example.org, other.net
    _check(client, shop.tenant, [
        (_c(d, "eq", "Example.NL"), {"K1", "K4"}),  # not mail.example.nl
        (_c(d, "ne", "example.nl"), {"K2", "K3", "K5", "K6", "K7"}),
        (_c(d, "in", ["example.com", "OTHER.net"]), {"K2", "K7"}),
        (_c(d, "not_in", ["example.nl"]), {"K2", "K3", "K5", "K6", "K7"}),
        (_c(d, "contains", "post"), {"K5"}),
        (_c(d, "contains", "@"), set()),
        (_c(d, "starts_with", "example"), {"K1", "K2", "K4", "K6"}),
        (_c(d, "ends_with", "example.nl"), {"K1", "K3", "K4"}),
        (_c(d, "gt", "other.net"), {"K5"}),
        (_c(d, "lte", "example.com"), {"K2"}),
        (_c(d, "between", ["example.nl", "mail.example.nl"]), {"K1", "K3", "K4", "K6"}),
        (_c(d, "is_not_empty"), EVERYONE),
    ])


def test_external_ids_compare_exactly_and_merged_ids_count(client, shop):
    s = "external_id.shop"  # S-1, s-2, S-3 (+ merged S-3-OLD), -, S-5, -, -
    _check(client, shop.tenant, [
        (_c(s, "eq", "S-1"), {"K1"}),
        (_c(s, "eq", "s-1"), set()),  # IDs are not text: case counts
        (_c(s, "eq", "s-2"), {"K2"}),
        (_c(s, "eq", "S-3-OLD"), {"K3"}),  # a merged ID leads to the contact it was merged into
        (_c(s, "ne", "S-1"), {"K2", "K3", "K4", "K5", "K6", "K7"}),
        (_c(s, "ne", "S-3-OLD"), {"K1", "K2", "K4", "K5", "K6", "K7"}),
        (_c(s, "in", ["S-1", "S-5", "nope"]), {"K1", "K5"}),
        (_c(s, "not_in", ["S-1", "S-5"]), {"K2", "K3", "K4", "K6", "K7"}),
        (_c(s, "contains", "-3"), {"K3"}),
        (_c(s, "starts_with", "S-1"), {"K1"}),
        (_c(s, "ends_with", "OLD"), {"K3"}),
        (_c(s, "is_empty"), {"K4", "K6", "K7"}),
        (_c(s, "is_not_empty"), {"K1", "K2", "K3", "K5"}),
        (_c("external_id.crm", "eq", "K7"), {"K7"}),
        (_c("external_id.crm", "eq", "k7"), set()),
        (_c("external_id.crm", "is_empty"), set()),
    ])


def test_external_id_text_matching_respects_case(client, shop):
    """contains / starts_with / ends_with on IDs compare exactly too, on every database."""
    s = "external_id.shop"  # S-1, s-2, S-3 (+ merged S-3-OLD), -, S-5, -, -
    _check(client, shop.tenant, [
        (_c(s, "starts_with", "S-"), {"K1", "K3", "K5"}),  # not s-2
        (_c(s, "starts_with", "s-"), {"K2"}),
        (_c(s, "ends_with", "old"), set()),
        (_c(s, "contains", "3-old"), set()),
        (_c(s, "contains", "S"), {"K1", "K3", "K5"}),
    ])


@pytest.fixture
def stamped(shop, engine):  # type: ignore[no-untyped-def]
    """created_at of K1..K7 set around 2020-01-05 (UTC) and relative to now; K1 updated long ago."""
    now = _today()
    created = {
        "K1": datetime(2020, 1, 5, 0, 0, 0, tzinfo=UTC),
        "K2": datetime(2020, 1, 5, 23, 59, 59, 999999, tzinfo=UTC),
        "K3": datetime(2020, 1, 6, 0, 0, 0, tzinfo=UTC),
        "K4": datetime(2020, 1, 4, 23, 59, 59, 999999, tzinfo=UTC),
        "K5": datetime(2019, 6, 1, 12, 0, 0, tzinfo=UTC),
        "K6": now - timedelta(days=2),
        "K7": now - timedelta(days=10),
    }
    set_contacts(engine, [{"id": shop.ids[k], "created_at": moment} for k, moment in created.items()])
    set_contacts(engine, [{"id": shop.ids["K1"], "updated_at": datetime(2021, 3, 3, 12, 0, tzinfo=UTC)}])
    return shop


def test_created_at_a_date_is_its_whole_utc_day(client, stamped):
    c = "created_at"
    _check(client, stamped.tenant, [
        (_c(c, "eq", "2020-01-05"), {"K1", "K2"}),
        (_c(c, "ne", "2020-01-05"), {"K3", "K4", "K5", "K6", "K7"}),
        (_c(c, "in", ["2020-01-04", "2020-01-06"]), {"K3", "K4"}),
        (_c(c, "not_in", ["2020-01-04", "2020-01-06"]), {"K1", "K2", "K5", "K6", "K7"}),
        (_c(c, "gt", "2020-01-05"), {"K3", "K6", "K7"}),  # after that day
        (_c(c, "gte", "2020-01-05"), {"K1", "K2", "K3", "K6", "K7"}),
        (_c(c, "lt", "2020-01-05"), {"K4", "K5"}),
        (_c(c, "lte", "2020-01-05"), {"K1", "K2", "K4", "K5"}),  # up to the end of that day
        (_c(c, "between", ["2020-01-05", "2020-01-05"]), {"K1", "K2"}),
        (_c(c, "between", ["2020-01-04", "2020-01-06"]), {"K1", "K2", "K3", "K4"}),
        (_c(c, "within_last_days", 5), {"K6"}),
        (_c(c, "within_last_days", 30), {"K6", "K7"}),
        (_c(c, "more_than_days_ago", 5), {"K1", "K2", "K3", "K4", "K5", "K7"}),
    ])


def test_created_at_takes_iso_date_times(client, stamped):
    c = "created_at"
    _check(client, stamped.tenant, [
        (_c(c, "eq", "2020-01-05T00:00:00Z"), {"K1"}),  # that moment exactly
        (_c(c, "gt", "2020-01-05T00:00:00Z"), {"K2", "K3", "K6", "K7"}),
        (_c(c, "gte", "2020-01-05T00:00:00+00:00"), {"K1", "K2", "K3", "K6", "K7"}),
        (_c(c, "lt", "2020-01-05T01:00:00+01:00"), {"K4", "K5"}),  # = midnight UTC
        (_c(c, "lte", "2020-01-05T23:59:59.999999Z"), {"K1", "K2", "K4", "K5"}),
        (_c(c, "between", ["2020-01-04T23:59:59.999999Z", "2020-01-05T12:00:00Z"]), {"K1", "K4"}),
        (_c(c, "between", ["2020-01-05T12:00:00Z", "2020-01-06"]), {"K2", "K3"}),  # a date: its whole day
    ])


def test_created_at_between_a_moment_and_a_date_runs_to_the_end_of_that_day(client, stamped):
    """A date as the upper bound stands for its whole day, so a moment earlier that day is below it."""
    _check(client, stamped.tenant, [
        (_c("created_at", "between", ["2020-01-05T12:00:00Z", "2020-01-05"]), {"K2"}),
    ])


def test_updated_at_is_its_own_column(client, stamped):
    u = "updated_at"  # K1 2021-03-03 12:00 UTC; the others at import time (now)
    _check(client, stamped.tenant, [
        (_c(u, "eq", "2021-03-03"), {"K1"}),
        (_c(u, "lt", "2021-03-04"), {"K1"}),
        (_c(u, "gt", "2021-03-03"), EVERYONE - {"K1"}),
        (_c(u, "more_than_days_ago", 1), {"K1"}),
        (_c(u, "within_last_days", 1), EVERYONE - {"K1"}),
        (_c(u, "eq", _day(0)), EVERYONE - {"K1"}),
    ])


# --- status ----------------------------------------------------------------------------------------


@pytest.fixture
def statuses(shop, import_rows, contacts_of):  # type: ignore[no-untyped-def]
    """K2 unsubscribed; K3 and K4 bounced; K8 (unsubscribed) and K9 (active) share K3's inbox."""
    rows = [["KlantNr", "E-mail", "Status"],
            ["K2", "Bob@Example.COM", "unsubscribed"],
            ["K3", "carla@mail.example.nl", "bounced"],
            ["K4", "ANNA@example.nl", "bounced"],
            ["K8", "carla@mail.example.nl", "unsubscribed"],
            ["K9", "Carla@MAIL.example.nl", "active"]]
    job = import_rows(shop.tenant, rows, {"match": BY_CRM["match"],
                                          "mapping": {"E-mail": "email", "Status": "status"}})
    assert (job["report"]["created"], job["report"]["updated"]) == (2, 3), job["report"]
    raw = {c["ids"]["crm"]: c["status"] for c in contacts_of(shop.tenant.id)}
    assert raw == {"K1": "active", "K2": "unsubscribed", "K3": "bounced", "K4": "bounced", "K5": "active",
                   "K6": "active", "K7": "active", "K8": "unsubscribed", "K9": "active"}
    return shop


ALL_NINE = EVERYONE | {"K8", "K9"}


def test_status_is_the_effective_status(client, statuses):
    """A bounce belongs to the address: K1 (K4's inbox) and K9 (K3's inbox) count as bounced;
    unsubscribing is a contact's own: K8 stays unsubscribed at a bounced address."""
    s = "status"
    _check(client, statuses.tenant, [
        (_c(s, "eq", "active"), {"K5", "K6", "K7"}),
        (_c(s, "eq", "bounced"), {"K1", "K3", "K4", "K9"}),
        (_c(s, "eq", "unsubscribed"), {"K2", "K8"}),
        (_c(s, "ne", "active"), {"K1", "K2", "K3", "K4", "K8", "K9"}),
        (_c(s, "in", ["active", "unsubscribed"]), {"K2", "K5", "K6", "K7", "K8"}),
        (_c(s, "not_in", ["bounced"]), {"K2", "K5", "K6", "K7", "K8"}),
        ({"all": [_c(s, "eq", "bounced"), _c("first_name", "eq", "anna")]}, {"K1"}),
    ], everyone=ALL_NINE)


def test_without_a_status_rule_only_mailable_contacts_are_in(client, statuses):
    tenant = statuses.tenant
    assert _matching(client, tenant, {"all": []}) == {"K5", "K6", "K7"}
    assert _matching(client, tenant, _c("email_domain", "ends_with", "example.nl")) == set()
    segment = new_segment(client, tenant, {"all": []})
    counts = preview(client, tenant, segment, allow_shared_address=True)
    assert (counts["contacts"], counts["excluded"]) == (3, 6), counts
    # A status test anywhere in the tree, even under a not, lets the rules alone decide.
    s = "status"
    nested = {"any": [{"not": _c(s, "eq", "active")}, _c("first_name", "eq", "eva")]}
    assert _matching(client, tenant, nested) == {"K1", "K2", "K3", "K4", "K6", "K8", "K9"}
    counts = preview(client, tenant, new_segment(client, tenant, nested), allow_shared_address=True)
    assert (counts["contacts"], counts["excluded"]) == (7, 0), counts
    every_status = {"all": [_c(s, "in", ["active", "bounced", "unsubscribed"])]}
    assert _matching(client, tenant, every_status) == ALL_NINE


# --- groups ----------------------------------------------------------------------------------------


def test_empty_groups(client, shop):
    _check(client, shop.tenant, [
        ({"all": []}, EVERYONE),  # everyone
        ({"any": []}, set()),  # any of nothing: no one
        ({"all": [{"all": []}]}, EVERYONE),
    ])


def test_all_any_and_not_nest(client, shop):
    amsterdam = _c("city", "starts_with", "amsterdam")  # K1, K3
    many = _c("orders", "gt", 5)  # K1, K5, K6
    vip = _c("vip", "eq", True)  # K1, K4
    bob = _c("first_name", "eq", "bob")  # K2
    _check(client, shop.tenant, [
        ({"all": [amsterdam, many]}, {"K1"}),
        ({"any": [amsterdam, many]}, {"K1", "K3", "K5", "K6"}),
        ({"any": [bob, vip]}, {"K1", "K2", "K4"}),
        ({"all": [amsterdam, {"not": many}]}, {"K3"}),
        ({"not": {"not": vip}}, {"K1", "K4"}),
        # De Morgan, both ways round.
        ({"not": {"any": [amsterdam, vip]}}, {"K2", "K5", "K6", "K7"}),
        ({"all": [{"not": amsterdam}, {"not": vip}]}, {"K2", "K5", "K6", "K7"}),
        ({"not": {"all": [amsterdam, vip]}}, EVERYONE - {"K1"}),
        # Three levels, mixing kinds.
        ({"any": [{"all": [vip, {"not": _c("first_name", "eq", "anna")}]},
                  {"all": [_c("email_domain", "eq", "post.org"), _c("external_id.shop", "eq", "S-5")]},
                  {"not": {"any": [_c("birthday", "is_not_empty"), _c("orders", "is_not_empty")]}}]},
         {"K4", "K5", "K7"}),
    ])


def test_deep_nesting(client, shop):
    rule: dict = _c("first_name", "eq", "eva")
    assert _matching(client, shop.tenant, rule) == {"K6"}  # a single condition is a rule tree
    for _ in range(10):
        rule = {"not": {"not": rule}}
    assert _matching(client, shop.tenant, rule) == {"K6"}
    # Far deeper: refused with a 400 (or accepted), never an internal error.
    for _ in range(200):
        rule = {"all": [rule]}
    response = client.post("/api/v1/segments", json={"name": "deep", "rules": rule},
                           headers=shop.tenant.auth())
    assert response.status_code in (201, 400), response.json
    if response.status_code == 400:
        # JSON nested past 100 levels is refused as it is read (service/safe_json.py), else the rules check
        assert response.json["error"]["code"] in ("invalid_json", "invalid_request")


# --- errors ----------------------------------------------------------------------------------------

GOOD = _c("first_name", "eq", "anna")


BAD_RULES = [
    ({"all": [GOOD, _c("nope", "eq", "x")]}, "rules.all[1].field"),
    ({"all": [GOOD, _c("orders", "gt", "12")]}, "rules.all[1].value"),
    ({"all": [GOOD, _c("orders", "contains", "1")]}, "rules.all[1].op"),
    ({"all": [GOOD, _c("vip", "gt", True)]}, "rules.all[1].op"),
    ({"all": [GOOD, _c("vip", "eq", "true")]}, "rules.all[1].value"),
    ({"all": [GOOD, _c("first_name", "eq", 5)]}, "rules.all[1].value"),
    ({"all": [GOOD, _c("first_name", "eq")]}, "rules.all[1].value"),
    ({"all": [GOOD, _c("first_name", "within_last_days", 3)]}, "rules.all[1].op"),
    ({"all": [GOOD, _c("first_name", "like", "a%")]}, "rules.all[1].op"),
    ({"any": [_c("orders", "between", [5, 1])]}, "rules.any[0].value"),
    ({"any": [_c("orders", "between", [1])]}, "rules.any[0].value"),
    ({"any": [_c("orders", "between", 1)]}, "rules.any[0].value"),
    ({"any": [_c("orders", "in", [])]}, "rules.any[0].value"),
    ({"any": [_c("orders", "in", [1, "2"])]}, "rules.any[0].value[1]"),
    ({"any": [_c("birthday", "eq", "31-12-2020")]}, "rules.any[0].value"),
    ({"any": [_c("birthday", "eq", "2020-02-30")]}, "rules.any[0].value"),
    ({"any": [_c("birthday", "between", ["2020-02-01", "2020-01-01"])]}, "rules.any[0].value"),
    ({"any": [_c("last_order", "within_last_days", -1)]}, "rules.any[0].value"),
    ({"any": [_c("last_order", "more_than_days_ago", "7")]}, "rules.any[0].value"),
    ({"any": [_c("created_at", "gt", "yesterday")]}, "rules.any[0].value"),
    ({"any": [_c("created_at", "is_empty")]}, "rules.any[0].op"),
    ({"any": [_c("status", "eq", "deleted")]}, "rules.any[0].value"),
    ({"any": [_c("status", "gt", "active")]}, "rules.any[0].op"),
    ({"any": [_c("external_id.nope", "eq", "1")]}, "rules.any[0].field"),
    ({"any": [_c("external_id.crm", "gt", "K1")]}, "rules.any[0].op"),
    ({"any": [_c("external_id.crm", "eq", 1)]}, "rules.any[0].value"),
    ({"any": [{"not": _c("email_domain", "eq", 3)}]}, "rules.any[0].not.value"),
    ({"not": {"all": [GOOD, {"any": [GOOD, _c("order_count", "eq", 1)]}]}}, "rules.not.all[1].any[1].field"),
    ({"all": "x"}, "rules.all"),
    ({"all": [GOOD, "x"]}, "rules.all[1]"),
    ({"all": [], "any": []}, "rules"),
    ({"all": [{**GOOD, "extra": 1}]}, "rules.all[0]"),
    ({"field": "first_name"}, "rules"),
    ({}, "rules"),
    ({"all": [GOOD, _c("city", "eq", "x" * 1001)]}, "rules.all[1].value"),
]


def test_a_bad_rule_is_a_400_naming_the_part(client, make_tenant):
    tenant = make_tenant("rules", "external_id", links={"crm": None}, fields=FIELDS)
    wrong = []
    for rules, where in BAD_RULES:
        response = client.post("/api/v1/segments", json={"name": "bad", "rules": rules},
                               headers=tenant.auth())
        error = (response.json or {}).get("error") or {}
        if (response.status_code, error.get("code")) != (400, "invalid_request") \
                or not error.get("message", "").startswith(f"{where}: "):
            wrong.append(f"{rules}: expected 400 naming {where}, got {response.status_code} {response.json}")
    assert not wrong, "\n".join(wrong)
    # Nothing was stored.
    listed = client.get("/api/v1/segments", headers=tenant.auth())
    assert listed.status_code == 200
    assert listed.json["segments"] == []



def test_a_bad_segment_body_is_a_400(client, make_tenant):
    tenant = make_tenant("rules", fields=FIELDS)
    for body in ({"rules": {"all": []}}, {"name": "", "rules": {"all": []}}, {"name": "x"},
                 {"name": "x", "rules": [{"all": []}]}, {"name": "x", "rules": "everyone"}):
        response = client.post("/api/v1/segments", json=body, headers=tenant.auth())
        assert response.status_code == 400, (body, response.json)
        assert response.json["error"]["code"] in ("invalid_request", "invalid_json"), body
    response = client.post("/api/v1/segments", data="not json", headers=tenant.auth(),
                           content_type="application/json")
    assert response.status_code == 400, response.json


def test_a_segment_is_stored_as_given(client, shop):
    rules = {"any": [_c("first_name", "eq", " Anna "), _c("created_at", "gt", "2020-01-05")]}
    segment_id = new_segment(client, shop.tenant, rules, name="Anna's")
    got = client.get(f"/api/v1/segments/{segment_id}", headers=shop.tenant.auth())
    assert got.status_code == 200
    assert (got.json["id"], got.json["name"], got.json["rules"]) == (segment_id, "Anna's", rules)
    listed = client.get("/api/v1/segments", headers=shop.tenant.auth()).json["segments"]
    assert [s["id"] for s in listed] == [segment_id]


def test_segment_names_are_unique_per_account(client, shop, make_tenant):
    new_segment(client, shop.tenant, {"all": []}, name="Everyone")
    again = client.post("/api/v1/segments", json={"name": "Everyone", "rules": GOOD},
                        headers=shop.tenant.auth())
    assert again.status_code == 409, again.json
    assert again.json["error"]["code"] == "conflict"
    assert len(client.get("/api/v1/segments", headers=shop.tenant.auth()).json["segments"]) == 1
    other = make_tenant("other", fields=FIELDS)
    new_segment(client, other, {"all": []}, name="Everyone")  # another account may use the name


def test_another_accounts_segment_is_404(client, shop, make_tenant, import_rows):
    segment_id = new_segment(client, shop.tenant, {"all": []})
    other = make_tenant("other", fields=FIELDS)
    import_rows(other, [["email"], ["someone@example.nl"]], {"mapping": {"email": "email"}})
    for path in ("", "/preview", "/recipients", "/recipients?format=csv"):
        response = client.get(f"/api/v1/segments/{segment_id}{path}", headers=other.auth())
        assert response.status_code == 404, (path, response.data[:300])
        assert response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/segments", headers=other.auth()).json["segments"] == []
    assert client.get("/api/v1/segments/999999/preview", headers=shop.tenant.auth()).status_code == 404
    # The owner still sees it.
    assert client.get(f"/api/v1/segments/{segment_id}/preview", headers=shop.tenant.auth()).status_code == 200


def test_another_accounts_contacts_fields_and_links_never_count(client, shop, make_tenant, import_rows):
    """Another account's bounce at the same address, its fields and its links mean nothing here."""
    other = make_tenant("other", "external_id", links={"webshop": None}, fields={"loyalty": "number"})
    rows = [["Nr", "E-mail", "Punten", "Status"], ["W1", "anna@example.nl", "5", "bounced"],
            ["W2", "eva@example.org", "7", "unsubscribed"]]
    import_rows(other, rows, {"match": {"by": "external_id", "link": "webshop", "column": "Nr"},
                              "mapping": {"E-mail": "email", "Punten": "loyalty", "Status": "status"}})
    assert _matching(client, shop.tenant, {"all": []}) == EVERYONE
    assert _matching(client, shop.tenant, _c("status", "eq", "active")) == EVERYONE
    counts = preview(client, shop.tenant, new_segment(client, shop.tenant, {"all": []}))
    assert (counts["contacts"], counts["excluded"], counts["addresses"]) == (7, 0, 6), counts
    # The other account sees only its own two contacts.
    not_active = new_segment(client, other, _c("status", "ne", "active"))
    listed = recipients(client, other, not_active, allow_shared_address=True)
    assert sorted(c["external_ids"]["webshop"] for c in listed) == ["W1", "W2"]
    counts = preview(client, other, new_segment(client, other, {"all": []}))
    assert (counts["contacts"], counts["excluded"]) == (0, 2), counts
    for field in ("loyalty", "external_id.webshop"):
        response = client.post("/api/v1/segments", json={"name": "x", "rules": _c(field, "is_empty")},
                               headers=shop.tenant.auth())
        assert response.status_code == 400, response.json
        assert response.json["error"]["message"].startswith("rules.field: "), response.json


def test_segments_need_a_manage_or_admin_key(client, shop):
    segment_id = new_segment(client, shop.tenant, {"all": []})
    one = f"/api/v1/segments/{segment_id}"
    paths = ["/api/v1/segments", one, f"{one}/preview", f"{one}/recipients", f"{one}/recipients?format=csv"]
    for headers, status in (({}, 401), ({"Authorization": "Bearer not-a-key"}, 401),
                            (shop.tenant.auth("send"), 403)):
        for path in paths:
            response = client.get(path, headers=headers)
            assert response.status_code == status, (path, headers, response.data[:300])
            assert "error" in response.json
        created = client.post("/api/v1/segments", json={"name": "x", "rules": {"all": []}}, headers=headers)
        assert created.status_code == status, (headers, created.json)
    assert client.get(f"{one}/preview", headers=shop.tenant.auth("admin")).status_code == 200
    admin_made = client.post("/api/v1/segments", json={"name": "by admin", "rules": {"all": []}},
                             headers=shop.tenant.auth("admin"))
    assert admin_made.status_code == 201, admin_made.json


def test_text_equality_ignores_case_as_python_lower_does(client, make_tenant, import_rows):
    """eq/in/ne/not_in on SQLite skip Python's lower() for ASCII values (issue 14): the Kelvin sign
    (lowers to "k"), letters beyond ASCII and mixed lists must still match exactly as lower() says."""
    tenant = make_tenant("folding", "external_id", links={"crm": None}, fields={"city": "text"})
    rows = [["KlantNr", "E-mail", "Plaats"], ["K1", "a@example.nl", "\u212aerkrade"],
            ["K2", "b@example.nl", "KERKRADE"], ["K3", "c@example.nl", "ŸSTAD"],
            ["K4", "d@example.nl", "Élodie"], ["K5", "e@example.nl", "Utrecht"],
            ["K6", "f@example.nl", ""]]
    import_rows(tenant, rows, {"match": BY_CRM["match"],
                               "mapping": {"E-mail": "email", "Plaats": "city"}})
    f = "city"
    _check(client, tenant, [
        (_c(f, "eq", "kerkrade"), {"K1", "K2"}),
        (_c(f, "eq", "ÿstad"), {"K3"}),
        (_c(f, "in", ["UTRECHT", "élodie", "Kerkrade"]), {"K1", "K2", "K4", "K5"}),
        (_c(f, "ne", "kerkrade"), {"K3", "K4", "K5", "K6"}),
        (_c(f, "not_in", ["utrecht", "ÉLODIE"]), {"K1", "K2", "K3", "K6"}),
        ({"not": _c(f, "in", ["utrecht"])}, {"K1", "K2", "K3", "K4", "K6"}),
    ], everyone={"K1", "K2", "K3", "K4", "K5", "K6"})


def test_missing_values_count_alike_in_previews_and_lists_under_any_negation(client, shop):
    """A contact without a value matches no test on it but ne/not_in/is_empty, and its negation
    matches: whether the test stands alone (where the preview may leave it NULL for an index to
    serve), sits in all/any, or below one or two `not`s. The preview counts as the list does."""
    # K7 has no city, orders, birthday, vip or last order; K4 has no city or birthday.
    tests = [_c("city", "eq", "den haag"), _c("city", "in", ["den haag", "rotterdam"]),
             _c("city", "ne", "den haag"), _c("city", "contains", "a"), _c("orders", "between", [-5, 50]),
             _c("orders", "gte", 0), _c("birthday", "lt", "1995-01-01"), _c("vip", "eq", False),
             _c("last_order", "within_last_days", 30), _c("last_order", "more_than_days_ago", 1),
             _c("birthday", "more_than_years_ago", 1), _c("birthday", "within_last_years", 100)]
    for test in tests:
        shapes = [test, {"not": test}, {"not": {"not": test}}, {"any": [test, {"not": test}]},
                  {"all": [{"all": []}, {"not": {"any": [test]}}]}]
        for rules in shapes:
            segment = new_segment(client, shop.tenant, rules)
            listed = recipients(client, shop.tenant, segment, allow_shared_address=True)
            counted = preview(client, shop.tenant, segment, allow_shared_address=True)
            assert counted["contacts"] == len(listed), (rules, counted, len(listed))
        alone = len(_matching(client, shop.tenant, test))
        negated = len(_matching(client, shop.tenant, {"not": test}))
        assert alone + negated == len(EVERYONE), test
    assert _matching(client, shop.tenant, _c("city", "ne", "den haag")) == EVERYONE - {"K6"}
    assert _matching(client, shop.tenant, {"not": _c("orders", "gte", 0)}) == {"K4", "K7"}
