"""Segment preview counts and send lists, checked against a small model of the rules computed here.

A randomized dataset (fixed seed) of about 200 contacts in an external-ID account, addresses
shared by 1 to 5 contacts, some unsubscribed or bounced, timestamps with many ties. The model
below reads the contacts straight from the database (contacts_of) and works out, in plain Python,
who matches, who is mailable, how the list collapses and which contact represents an address.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.segment_helpers import (
    as_utc,
    new_segment,
    preview,
    query,
    recipient_pages,
    recipients,
    recipients_csv,
    set_contacts,
)

FIELDS = {"first_name": "text", "city": "text", "score": "number", "member": "boolean", "joined": "date"}
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
          "mapping": {"E-mail": "email", "Voornaam": "first_name", "Stad": "city", "Score": "score",
                      "Lid": "member", "Sinds": "joined", "Status": "status"}}
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    """A moment as whole microseconds (floats would lose the last digit)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# --- the model ---------------------------------------------------------------------------------------


@dataclass
class Model:
    contacts: list[dict]
    dedup_mode: str = "external_id"

    def __post_init__(self) -> None:
        bounced = {c["address_key"] for c in self.contacts if c["status"] == "bounced"}
        for c in self.contacts:
            c["effective"] = ("unsubscribed" if c["status"] == "unsubscribed"
                              else "bounced" if c["address_key"] in bounced else "active")
            c["created"], c["updated"] = as_utc(c["created_at"]), as_utc(c["updated_at"])

    # rules

    def value(self, c: dict, field: str) -> Any:
        if field == "status":
            return c["effective"]
        if field == "email":
            return c["address_key"]
        if field == "email_domain":
            return c["address_key"].split("@", 1)[1]
        value = c["attributes"].get(field)
        if value is None or value == "":
            return None
        if FIELDS[field] == "text":
            return value.lower()
        return float(value) if FIELDS[field] == "number" else value  # booleans; dates as YYYY-MM-DD

    def matches(self, rule: dict, c: dict) -> bool:
        if "all" in rule:
            return all(self.matches(part, c) for part in rule["all"])
        if "any" in rule:
            return any(self.matches(part, c) for part in rule["any"])
        if "not" in rule:
            return not self.matches(rule["not"], c)
        op, want, have = rule["op"], rule.get("value"), self.value(c, rule["field"])
        want = want.lower() if isinstance(want, str) else [w.lower() if isinstance(w, str) else w
                                                           for w in want] if isinstance(want, list) else want
        if op == "is_empty":
            return have is None
        if op == "is_not_empty":
            return have is not None
        if op == "ne":
            return have is None or have != want
        if op == "not_in":
            return have is None or have not in want
        if have is None:
            return False
        return {"eq": lambda: have == want, "in": lambda: have in want,
                "contains": lambda: want in have, "starts_with": lambda: have.startswith(want),
                "gt": lambda: have > want, "gte": lambda: have >= want,
                "lt": lambda: have < want, "lte": lambda: have <= want}[op]()

    @staticmethod
    def mentions_status(rule: dict) -> bool:
        if "all" in rule or "any" in rule:
            return any(Model.mentions_status(p) for p in rule.get("all", rule.get("any")))
        if "not" in rule:
            return Model.mentions_status(rule["not"])
        return rule["field"] == "status"

    # audiences

    def members(self, rule: dict) -> tuple[list[dict], int]:
        """(matching and mailable contacts, matching but left out)."""
        matched = [c for c in self.contacts if self.matches(rule, c)]
        if self.mentions_status(rule):
            return matched, 0
        members = [c for c in matched if c["effective"] == "active"]
        return members, len(matched) - len(members)

    def slot(self, c: dict, allow: bool, personalized: tuple[str, ...]) -> tuple:
        return (c["address_key"], *(self.value(c, f) for f in personalized)) if allow else (c["address_key"],)

    def collapses(self, allow: bool, personalized: tuple[str, ...]) -> bool:
        return self.dedup_mode == "external_id" and (not allow or bool(personalized))

    def preview(self, rule: dict, allow: bool = False, personalized: tuple[str, ...] = ()) -> dict:
        members, excluded = self.members(rule)
        per_address = Counter(c["address_key"] for c in members)
        if not self.collapses(allow, personalized):
            recipients_ = len(members)
        else:
            recipients_ = len({self.slot(c, allow, personalized) for c in members})
        return {"contacts": len(members), "excluded": excluded, "addresses": len(per_address),
                "recipients": recipients_, "collapsed": len(members) - recipients_,
                "shared": {"2": sum(1 for n in per_address.values() if n == 2),
                           "3": sum(1 for n in per_address.values() if n == 3),
                           "4+": sum(1 for n in per_address.values() if n >= 4)}}

    def rank(self, representative: Any, c: dict) -> tuple:
        """Sort key: the lowest is the representative; the contact id breaks ties."""
        rule = (representative if isinstance(representative, dict)
                else {"rule": representative or "most_recently_updated"})
        if rule["rule"] == "most_recently_updated":
            first: Any = -_micros(c["updated"])
        elif rule["rule"] == "oldest":
            first = _micros(c["created"])
        elif rule["rule"] == "prefer":
            first = 0 if self.matches(rule["when"], c) else 1
        else:
            first = 0 if self.value(c, rule["field"]) is not None else 1
        return (first, c["id"])

    def recipients(self, rule: dict, allow: bool = False, personalized: tuple[str, ...] = (),
                   representative: Any = None) -> list[int]:
        members, _ = self.members(rule)
        if not self.collapses(allow, personalized):
            return sorted(c["id"] for c in members)
        best: dict[tuple, dict] = {}
        for c in members:
            key = self.slot(c, allow, personalized)
            if key not in best or self.rank(representative, c) < self.rank(representative, best[key]):
                best[key] = c
        return sorted(c["id"] for c in best.values())


# --- the dataset ---------------------------------------------------------------------------------------


def _spell(rng: random.Random, local: str, domain: str) -> str:
    """The same inbox, spelled with varying case (its address key stays the same)."""
    local = rng.choice([local, local.upper(), local.title()])
    domain = rng.choice([domain, domain.upper(), domain.title()])
    return f"{local}@{domain}"


def _random_rows(seed: int, target: int = 200) -> list[list[str]]:
    rng = random.Random(seed)
    rows, n, address = [], 0, 0
    while n < target:
        address += 1
        local, domain = f"inbox{address}", rng.choice(["example.nl", "example.com", "post.example.org"])
        for _ in range(min(rng.choice([1, 1, 1, 2, 2, 2, 3, 3, 4, 5]), target - n)):
            n += 1
            status = rng.choices(["", "unsubscribed", "bounced"], weights=[86, 10, 4])[0]
            rows.append([f"C{n}", _spell(rng, local, domain),
                         rng.choice(["Anna", "anna", "ANNA", "Bob", "Carla", "Daan", "Eva", "", ""]),
                         rng.choice(["Amsterdam", "Utrecht", "utrecht", "Rotterdam", ""]),
                         rng.choice([str(rng.randint(0, 100))] * 9 + [""]),
                         rng.choice(["ja", "nee", ""]), rng.choice(["2024-01-31", "01-02-2024", ""]), status])
    rng.shuffle(rows)  # contacts at one address get ids far apart
    return [["KlantNr", "E-mail", "Voornaam", "Stad", "Score", "Lid", "Sinds", "Status"], *rows]


@dataclass
class Dataset:
    tenant: Any
    model: Model


def _stamp_randomly(engine, contacts: list[dict], seed: int) -> None:  # type: ignore[no-untyped-def]
    """created_at and updated_at from a few moments only, so that ties are common; an unsubscribed
    contact is often the most recently updated (it must still never be chosen)."""
    rng = random.Random(seed)
    moments = [T0 + timedelta(hours=h, microseconds=m) for h, m in ((0, 0), (5, 1), (5, 2), (30, 0))]
    changes = []
    for c in contacts:
        updated = moments[-1] if c["status"] == "unsubscribed" and rng.random() < 0.7 else rng.choice(moments)
        changes.append({"id": c["id"], "created_at": rng.choice(moments) - timedelta(days=10),
                        "updated_at": updated})
    set_contacts(engine, changes)


@pytest.fixture
def dataset(make_tenant, import_rows, contacts_of, engine) -> Dataset:  # type: ignore[no-untyped-def]
    tenant = make_tenant("family", "external_id", links={"crm": None}, fields=FIELDS)
    rows = _random_rows(seed=20261127)
    job = import_rows(tenant, rows, BY_CRM)
    assert job["report"]["created"] == len(rows) - 1, job["report"]
    assert job["report"]["created_shared_address"] > 50, job["report"]
    _stamp_randomly(engine, contacts_of(tenant.id), seed=7)
    model = Model(contacts_of(tenant.id))
    # The dataset has what the tests need.
    assert len(model.contacts) == 200
    assert {c["effective"] for c in model.contacts} == {"active", "unsubscribed", "bounced"}
    sizes = Counter(Counter(c["address_key"] for c in model.contacts).values())
    assert {1, 2, 3, 4, 5} <= set(sizes), sizes
    return Dataset(tenant, model)


RULES = [
    {"all": []},
    {"field": "city", "op": "eq", "value": "UTRECHT"},
    {"any": [{"field": "score", "op": "gte", "value": 70},
             {"field": "first_name", "op": "in", "value": ["anna", "Eva"]}]},
    {"not": {"field": "first_name", "op": "is_empty"}},
    {"all": [{"field": "status", "op": "in", "value": ["active", "unsubscribed"]},
             {"field": "score", "op": "lt", "value": 60}]},
    {"all": [{"field": "email_domain", "op": "eq", "value": "example.nl"},
             {"not": {"field": "city", "op": "starts_with", "value": "amster"}}]},
    # Rules that test no field are counted from the address index alone (segments/collapse.py).
    {"any": []},
    {"not": {"any": []}},
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"representative": "oldest"},
    {"allow_shared_address": True},
    {"allow_shared_address": True, "personalized_by": ("first_name",)},
    {"allow_shared_address": True, "personalized_by": ("first_name", "city")},
    {"allow_shared_address": True, "personalized_by": ("score",)},
    {"allow_shared_address": True, "personalized_by": ("member", "joined")},
]


def _model_preview(model: Model, rule: dict, options: dict) -> dict:
    return model.preview(rule, options.get("allow_shared_address", False), options.get("personalized_by", ()))


def test_preview_counts_match_the_model(client, dataset):
    # Every option changes the count on this dataset (else this test could not tell them apart).
    everyone = [_model_preview(dataset.model, RULES[0], options)["recipients"] for options in OPTIONS]
    assert len(set(everyone) - {everyone[1]}) == len(OPTIONS) - 2, everyone  # oldest: same as default
    wrong = []
    for rule in RULES:
        segment = new_segment(client, dataset.tenant, rule)
        for options in OPTIONS:
            expected = _model_preview(dataset.model, rule, options)
            got = preview(client, dataset.tenant, segment, **options)
            if got != expected:
                wrong.append(f"{rule} {options}:\n  expected {expected}\n  got      {got}")
    assert not wrong, "\n".join(wrong)


def test_preview_counts_are_consistent(client, dataset):
    """Whatever the model says: the counts add up among themselves and with the send list."""
    for rule in (RULES[0], RULES[2]):
        segment = new_segment(client, dataset.tenant, rule)
        for options in (OPTIONS[0], OPTIONS[2], OPTIONS[3], OPTIONS[6]):
            counts = preview(client, dataset.tenant, segment, **options)
            assert counts["collapsed"] == counts["contacts"] - counts["recipients"] >= 0, counts
            assert counts["addresses"] <= counts["contacts"], counts
            shared = counts["shared"]
            assert 2 * shared["2"] + 3 * shared["3"] + 4 * shared["4+"] <= counts["contacts"], counts
            if not options.get("allow_shared_address"):
                assert counts["recipients"] == counts["addresses"], counts
            listed = recipients(client, dataset.tenant, segment, **options)
            assert len(listed) == counts["recipients"], (rule, options, counts)
            assert len({c["address_key"] for c in listed}) == counts["addresses"], (rule, options)


REPRESENTATIVES: list[Any] = [
    None,
    "most_recently_updated",
    "oldest",
    {"rule": "most_recently_updated"},
    {"rule": "prefer", "when": {"field": "city", "op": "eq", "value": "utrecht"}},
    {"rule": "prefer", "when": {"all": [{"field": "score", "op": "gte", "value": 50},
                                        {"field": "first_name", "op": "is_not_empty"}]}},
    {"rule": "prefer", "when": {"field": "first_name", "op": "eq", "value": "nobody"}},  # ids decide
    {"rule": "prefer_non_empty", "field": "first_name"},
    {"rule": "prefer_non_empty", "field": "score"},
]


def test_recipients_follow_each_representative_rule(client, dataset):
    # The rules really choose differently on this dataset (else this test could not tell them apart).
    choices = {tuple(dataset.model.recipients(RULES[0], representative=r)) for r in REPRESENTATIVES}
    assert len(choices) >= 5, len(choices)
    wrong = []
    for rule in (RULES[0], RULES[2], RULES[4]):
        segment = new_segment(client, dataset.tenant, rule)
        for representative in REPRESENTATIVES:
            expected = dataset.model.recipients(rule, representative=representative)
            listed = recipients(client, dataset.tenant, segment, representative=representative)
            got = [c["id"] for c in listed]
            if got != expected:
                missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
                wrong.append(f"{rule} representative={representative}: missing {missing}, unexpected {extra}")
    assert not wrong, "\n".join(wrong)


def test_recipients_with_the_opt_in_and_personalisation(client, dataset):
    wrong = []
    for rule in (RULES[0], RULES[3], RULES[4]):
        segment = new_segment(client, dataset.tenant, rule)
        for options in OPTIONS[2:]:
            for representative in (None, {"rule": "prefer_non_empty", "field": "city"}):
                personalized = options.get("personalized_by", ())
                expected = dataset.model.recipients(rule, True, personalized, representative)
                got = [c["id"] for c in recipients(client, dataset.tenant, segment, **options,
                                                   representative=representative)]
                if got != expected:
                    wrong.append(f"{rule} {options} {representative}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_the_send_list_never_holds_an_unmailable_contact(client, dataset):
    segment = new_segment(client, dataset.tenant, {"all": []})
    effective = {c["id"]: c["effective"] for c in dataset.model.contacts}
    for options in OPTIONS:
        listed = recipients(client, dataset.tenant, segment, **options)
        assert {effective[c["id"]] for c in listed} == {"active"}, options
        assert {c["status"] for c in listed} == {"active"}, options


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize(("options", "limit"), [
    ({}, 7),
    ({"representative": {"rule": "prefer_non_empty", "field": "first_name"}}, 13),
    ({"allow_shared_address": True, "personalized_by": ("first_name",)}, 10),
])
def test_csv_equals_the_json_pages(client, dataset, options, limit):
    rule = RULES[2]
    segment = new_segment(client, dataset.tenant, rule)
    pages = recipient_pages(client, dataset.tenant, segment, limit=limit, **options)
    listed = [c for page in pages for c in page["recipients"]]
    ids = [c["id"] for c in listed]
    assert ids == sorted(set(ids)), "pages are in contact id order, without repeats"
    assert ids == dataset.model.recipients(rule, options.get("allow_shared_address", False),
                                           options.get("personalized_by", ()), options.get("representative"))
    assert len(pages) == math.ceil(len(listed) / limit), [len(p["recipients"]) for p in pages]
    assert all(len(p["recipients"]) == limit for p in pages[:-1])
    for page, following in zip(pages, pages[1:], strict=False):
        assert page["next_cursor"] == page["recipients"][-1]["id"] < following["recipients"][0]["id"]
    assert pages[-1]["next_cursor"] is None
    # Every recipient in full, as the contacts API shows it.
    first = client.get(f"/api/v1/contacts/{listed[0]['id']}", headers=dataset.tenant.auth()).json
    assert listed[0] == first

    header, rows = recipients_csv(client, dataset.tenant, segment, **options)
    assert header == ["id", "email", "status", *FIELDS, "crm"]  # then each link's ID
    assert rows == [[str(c["id"]), c["email"], c["status"], *(_cell(c["fields"].get(f)) for f in FIELDS),
                     c["external_ids"].get("crm", "")] for c in listed]


def test_an_email_mode_account_never_collapses(client, make_tenant, import_rows, contacts_of, engine):
    tenant = make_tenant("plain", "email", fields=FIELDS)
    rng = random.Random(99)
    rows = [["E-mail", "Voornaam", "Stad", "Score", "Lid", "Sinds", "Status"]]
    for _ in range(60):
        address = rng.randint(1, 45)  # some addresses more than once: merged in the file
        rows.append([_spell(rng, f"inbox{address}", "example.nl"), rng.choice(["Anna", "Bob", ""]),
                     rng.choice(["Utrecht", "Rotterdam"]), str(rng.randint(0, 100)), "ja", "",
                     rng.choices(["", "unsubscribed", "bounced"], weights=[80, 15, 5])[0]])
    job = import_rows(tenant, rows, {"match": {"by": "email"}, "mapping": BY_CRM["mapping"]})
    assert job["report"]["merged_in_file"] > 0, job["report"]
    _stamp_randomly(engine, contacts_of(tenant.id), seed=3)
    model = Model(contacts_of(tenant.id), dedup_mode="email")
    assert len({c["address_key"] for c in model.contacts}) == len(model.contacts)
    for rule in (RULES[0], RULES[1], RULES[4]):
        segment = new_segment(client, tenant, rule)
        for options in (OPTIONS[0], OPTIONS[1], OPTIONS[2], OPTIONS[3]):
            counts = preview(client, tenant, segment, **options)
            assert counts == _model_preview(model, rule, options), (rule, options)
            assert counts["recipients"] == counts["contacts"] == counts["addresses"], counts
            assert (counts["collapsed"], counts["shared"]) == (0, {"2": 0, "3": 0, "4+": 0}), counts
            got = [c["id"] for c in recipients(client, tenant, segment, **options)]
            assert got == model.recipients(rule, options.get("allow_shared_address", False),
                                           options.get("personalized_by", ())), (rule, options)


# --- representatives, one address at a time --------------------------------------------------------


@pytest.fixture
def household(make_tenant, import_rows, contacts_of):  # type: ignore[no-untyped-def]
    """P1, P2, P3 share one inbox (P3 unsubscribed); Q1 has an inbox of its own."""
    tenant = make_tenant("household", "external_id", links={"crm": None}, fields=FIELDS)
    rows = [["KlantNr", "E-mail", "Voornaam", "Stad", "Score", "Lid", "Sinds", "Status"],
            ["P1", "home@example.nl", "", "Utrecht", "", "", "", ""],
            ["P2", "Home@example.nl", "Piet", "", "5", "", "", ""],
            ["P3", "HOME@EXAMPLE.NL", "Piet", "Utrecht", "9", "", "", "unsubscribed"],
            ["Q1", "q@example.nl", "Quinten", "", "", "", "", ""]]
    import_rows(tenant, rows, BY_CRM)
    ids = {c["ids"]["crm"]: c["id"] for c in contacts_of(tenant.id)}
    assert ids["P1"] < ids["P2"] < ids["P3"] < ids["Q1"]
    return tenant, ids


def _chosen(client, tenant, ids, segment, **params) -> list[str]:  # type: ignore[no-untyped-def]
    names = {v: k for k, v in ids.items()}
    return [names[c["id"]] for c in recipients(client, tenant, segment, **params)]


def test_representative_ties_go_to_the_lowest_id(client, household, engine):
    tenant, ids = household
    same = T0
    set_contacts(engine, [{"id": ids[k], "created_at": same, "updated_at": same} for k in ("P1", "P2", "P3")])
    segment = new_segment(client, tenant, {"all": []})
    for representative in (None, "most_recently_updated", "oldest",
                           {"rule": "prefer", "when": {"field": "score", "op": "gt", "value": 100}},
                           {"rule": "prefer", "when": {"field": "city", "op": "eq", "value": "utrecht"}}):
        chosen = _chosen(client, tenant, ids, segment, representative=representative)
        assert chosen == ["P1", "Q1"], representative
    # Both P2 and P3 have a first name; P3 is unsubscribed, so P2.
    non_empty = {"rule": "prefer_non_empty", "field": "first_name"}
    chosen = _chosen(client, tenant, ids, segment, representative=non_empty)
    assert chosen == ["P2", "Q1"]


def test_an_unmailable_contact_is_never_the_representative(client, household, engine):
    tenant, ids = household
    set_contacts(engine, [
        {"id": ids["P1"], "created_at": T0, "updated_at": T0 + timedelta(hours=1)},
        {"id": ids["P2"], "created_at": T0 - timedelta(days=1), "updated_at": T0},
        # P3: the oldest and the most recently updated, and it matches the preference: but unsubscribed.
        {"id": ids["P3"], "created_at": T0 - timedelta(days=2), "updated_at": T0 + timedelta(days=1)},
    ])
    segment = new_segment(client, tenant, {"all": []})
    assert _chosen(client, tenant, ids, segment) == ["P1", "Q1"]
    assert _chosen(client, tenant, ids, segment, representative="oldest") == ["P2", "Q1"]
    assert _chosen(client, tenant, ids, segment, representative={
        "rule": "prefer", "when": {"field": "score", "op": "gte", "value": 9}}) == ["P1", "Q1"]
    assert _chosen(client, tenant, ids, segment, representative={
        "rule": "prefer", "when": {"field": "first_name", "op": "eq", "value": "PIET"}}) == ["P2", "Q1"]
    counts = preview(client, tenant, segment)
    assert counts == {"contacts": 3, "excluded": 1, "addresses": 2, "recipients": 2, "collapsed": 1,
                      "shared": {"2": 1, "3": 0, "4+": 0}}
    # With the opt-in each mailable contact gets a copy; personalised by first name, P1 ("") and P2 do too.
    assert _chosen(client, tenant, ids, segment, allow_shared_address=True) == ["P1", "P2", "Q1"]
    assert _chosen(client, tenant, ids, segment, allow_shared_address=True,
                   personalized_by=["first_name"]) == ["P1", "P2", "Q1"]
    assert _chosen(client, tenant, ids, segment, allow_shared_address=True,
                   personalized_by=["city"]) == ["P1", "P2", "Q1"]
    # A status rule lets the rules decide: P3 is in, and wins as the most recently updated.
    with_p3 = new_segment(client, tenant, {"field": "status", "op": "in",
                                           "value": ["active", "unsubscribed"]})
    assert _chosen(client, tenant, ids, with_p3) == ["P3", "Q1"]
    assert preview(client, tenant, with_p3)["excluded"] == 0


def test_a_bounce_takes_the_whole_address_out(client, household, engine):
    tenant, ids = household
    set_contacts(engine, [{"id": ids["P2"], "status": "bounced"}])
    segment = new_segment(client, tenant, {"all": []})
    assert _chosen(client, tenant, ids, segment) == ["Q1"]
    assert _chosen(client, tenant, ids, segment, allow_shared_address=True) == ["Q1"]
    counts = preview(client, tenant, segment, allow_shared_address=True)
    assert counts == {"contacts": 1, "excluded": 3, "addresses": 1, "recipients": 1, "collapsed": 0,
                      "shared": {"2": 0, "3": 0, "4+": 0}}
    # A segment of P1 alone (who did not bounce) leaves P1 out too.
    only_p1 = new_segment(client, tenant, {"field": "external_id.crm", "op": "eq", "value": "P1"})
    assert preview(client, tenant, only_p1)["contacts"] == 0
    assert preview(client, tenant, only_p1)["excluded"] == 1


def test_a_bounce_in_another_account_leaves_the_address_in(client, household, make_tenant, import_rows,
                                                          contacts_of, engine):
    tenant, ids = household
    other = make_tenant("neighbour", "external_id", links={"crm": None}, fields=FIELDS)
    import_rows(other, [["KlantNr", "E-mail", "Voornaam", "Stad", "Score", "Lid", "Sinds", "Status"],
                        ["X1", "home@example.nl", "", "Utrecht", "", "", "", "bounced"],
                        ["X2", "q@example.nl", "", "", "", "", "", "bounced"]], BY_CRM)
    assert {c["status"] for c in contacts_of(other.id)} == {"bounced"}
    everyone = new_segment(client, tenant, {"all": []})
    assert preview(client, tenant, everyone) == {"contacts": 3, "excluded": 1, "addresses": 2,
                                                 "recipients": 2, "collapsed": 1,
                                                 "shared": {"2": 1, "3": 0, "4+": 0}}
    in_utrecht = new_segment(client, tenant, {"field": "city", "op": "eq", "value": "utrecht"})
    assert preview(client, tenant, in_utrecht)["contacts"] == 1  # P1 (P3 unsubscribed)
    # And the other account's own preview sees its bounces.
    assert preview(client, other, new_segment(client, other, {"all": []}))["excluded"] == 2


# --- parameters --------------------------------------------------------------------------------------


BAD_PARAMETERS = [
    ({"personalized_by": "first_name"}, "personalized_by"),
    ({"allow_shared_address": "true", "personalized_by": "nope"}, "personalized_by"),
    ({"allow_shared_address": "true", "personalized_by": "first_name,first_name"}, "personalized_by"),
    ({"allow_shared_address": "maybe"}, "allow_shared_address"),
    ({"representative": "newest"}, "representative"),
    ({"representative": '{"rule": "prefer"'}, "representative"),
    ({"representative": '{"rule": "prefer"}'}, "representative"),
    ({"representative": '{"rule": "prefer", "when": {"field": "nope", "op": "eq", "value": 1}}'},
     "representative.when"),
    ({"representative": '{"rule": "prefer_non_empty", "field": "nope"}'}, "representative"),
    ({"allow_shared_address": "true", "personalized_by": "email"}, "personalized_by"),
]


def test_bad_collapse_parameters_are_400s(client, household):
    tenant, _ids = household
    segment = new_segment(client, tenant, {"all": []})
    wrong = []
    for params, names in BAD_PARAMETERS:
        for path, extra in (("preview", {}), ("recipients", {}), ("recipients", {"format": "csv"})):
            response = client.get(f"/api/v1/segments/{segment}/{path}", query_string={**params, **extra},
                                  headers=tenant.auth())
            error = (response.json or {}).get("error") or {} if response.is_json else {}
            if (response.status_code, error.get("code")) != (400, "invalid_request") \
                    or names not in error.get("message", ""):
                wrong.append(f"{path} {params} {extra}: {response.status_code} {response.data[:300]!r}")
    assert not wrong, "\n".join(wrong)


def test_bad_paging_parameters_are_400s(client, household):
    tenant, _ids = household
    segment = new_segment(client, tenant, {"all": []})
    for args in ({"limit": "0"}, {"limit": "10001"}, {"limit": "x"}, {"cursor": "-1"}, {"format": "xml"}):
        response = client.get(f"/api/v1/segments/{segment}/recipients", query_string=args,
                              headers=tenant.auth())
        assert response.status_code == 400, (args, response.json)
        assert response.json["error"]["code"] == "invalid_request"
    # A cursor past the end is an empty last page.
    page = client.get(f"/api/v1/segments/{segment}/recipients", query_string=query(cursor=10**9),
                      headers=tenant.auth()).json
    assert page == {"recipients": [], "next_cursor": None}
