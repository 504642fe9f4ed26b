"""Mailings and the pre-send check over the API: previews, verdicts and their reasons, the send ledger,
idempotent retries, release and confirm, scopes and tenant isolation. Every test runs on SQLite and
on PostgreSQL (the database_url fixture)."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import datetime

import pytest
from mailing_helpers import (
    EVERYONE,
    IN_UTRECHT,
    Account,
    check,
    create_mailing,
    create_segment,
    ledger_table,
    make_account,
    pin_times,
    post_states,
    preview,
    reimport,
    send,
    skip,
    states,
    verdicts,
)
from sqlalchemy import text

# A household account (external-ID dedup). Addresses are spelled as people type them.
HOUSEHOLD = [
    ["K1", "anna@example.nl", "Anna", "Utrecht", "ja", ""],
    ["K2", "Anna@Example.NL", "Bert", "Utrecht", "nee", ""],            # K1's inbox
    ["K3", "carl@example.nl", "Carl", "Utrecht", "", "unsubscribed"],
    ["K4", "dora@example.nl", "Dora", "Utrecht", "", ""],               # active, but the address bounced
    ["K5", "dora@example.nl", "Dirk", "Amsterdam", "", "bounced"],
    ["K6", "eve@example.nl", "Eve", "Amsterdam", "", ""],               # outside Utrecht
    ["K7", "fred@example.nl", "Fred", "Amsterdam", "", "unsubscribed"],  # outside, and unsubscribed
    ["K8", "gina@example.nl", "Gina", "Utrecht", "", ""],
    ["K9", "GINA@example.nl", "", "Utrecht", "", ""],
    ["K10", "gina@example.nl", "Gina", "Amsterdam", "", ""],            # gina's inbox, outside Utrecht
    ["K11", "dora@example.nl", "Dora", "Utrecht", "", "unsubscribed"],  # unsubscribed at a bounced address
]


@pytest.fixture
def household(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    account = make_account(make_tenant, import_rows, engine, HOUSEHOLD, name="household")
    assert len(account.ids) == len(HOUSEHOLD)
    # Pin the timestamps so that the default rule (most recently updated) has one clear answer:
    # the higher the number, the more recent. K1 beats K2; at gina's inbox K10 is the most recent
    # (but outside Utrecht), then K9, then K8.
    for crm, day in {"K1": 5, "K2": 3, "K8": 2, "K9": 4, "K10": 9}.items():
        pin_times(engine, account[crm], updated=day)
    return account


@pytest.fixture
def other(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    """Another account, with contacts at the household's addresses."""
    return make_account(make_tenant, import_rows, engine, [
        ["K1", "anna@example.nl", "Anna", "Utrecht", "", ""],
        ["K99", "zoe@example.nl", "Zoe", "Utrecht", "", ""],
    ], name="other")


@pytest.fixture
def utrecht(client, household) -> int:  # type: ignore[no-untyped-def]
    """A mailing to the household account's Utrecht segment (default settings)."""
    return create_mailing(client, household, [create_segment(client, household, IN_UTRECHT, "utrecht")],
                          name="utrecht")


# --- an independent model of the contract, to check the service against ---------------------------


def _matches(rule: dict, contact: dict) -> bool:
    """The few rules these tests use, evaluated in Python."""
    if "all" in rule:
        return all(_matches(part, contact) for part in rule["all"])
    if "any" in rule:
        return any(_matches(part, contact) for part in rule["any"])
    value = contact["fields"].get(rule["field"])
    if rule["op"] == "eq":
        return value is not None and (value.lower() == rule["value"].lower() if isinstance(value, str)
                                      else value == rule["value"])
    if rule["op"] == "is_not_empty":
        return value not in (None, "")
    raise AssertionError(rule)


class Model:
    """Who a mailing reaches, and the verdicts of one check of everyone, worked out in Python.

    contacts: [{id, address_key, status, fields, updated, created}]."""

    def __init__(self, contacts: list[dict], include: list[dict], exclude: list[dict] = (), *,  # type: ignore[assignment]
                 collapse: bool = True, allow_shared_address: bool = False,
                 personalized_by: tuple[str, ...] = (), representative: object = None) -> None:
        self.contacts = contacts
        bounced = {c["address_key"] for c in contacts if c["status"] == "bounced"}
        self.matching = [c for c in contacts if any(_matches(r, c) for r in include)
                         and not any(_matches(r, c) for r in exclude)]
        self.mailable = [c for c in self.matching
                         if c["status"] == "active" and c["address_key"] not in bounced]
        self.bounced = bounced
        self.personalized_by = personalized_by if allow_shared_address else ()
        self.collapses = collapse and (not allow_shared_address or bool(personalized_by))
        self.representative = representative or "most_recently_updated"

    def slot(self, c: dict) -> tuple:
        if not self.collapses:
            return ("contact", c["id"])
        values = []
        for name in self.personalized_by:
            value = c["fields"].get(name)
            values.append(value.lower() if isinstance(value, str) else value)
        return (c["address_key"], *values)

    def rank(self, c: dict) -> tuple:
        rule = self.representative
        if rule == "most_recently_updated":
            return (-c["updated"], c["id"])
        if rule == "oldest":
            return (c["created"], c["id"])
        if rule["rule"] == "prefer":  # type: ignore[index]
            return (0 if _matches(rule["when"], c) else 1, c["id"])  # type: ignore[index]
        return (0 if c["fields"].get(rule["field"]) not in (None, "") else 1, c["id"])  # type: ignore[index]

    def winners(self) -> dict[tuple, int]:
        """slot -> the contact the representative rule picks among everyone mailable."""
        best: dict[tuple, dict] = {}
        for c in self.mailable:
            slot = self.slot(c)
            if slot not in best or self.rank(c) < self.rank(best[slot]):
                best[slot] = c
        return {slot: c["id"] for slot, c in best.items()}

    def preview(self) -> dict:
        per_address = Counter(c["address_key"] for c in self.mailable)
        recipients = len(self.winners())
        return {"contacts": len(self.mailable), "excluded": len(self.matching) - len(self.mailable),
                "addresses": len(per_address), "recipients": recipients,
                "collapsed": len(self.mailable) - recipients,
                "shared": {"2": sum(1 for n in per_address.values() if n == 2),
                           "3": sum(1 for n in per_address.values() if n == 3),
                           "4+": sum(1 for n in per_address.values() if n >= 4)}}

    def verdict(self, c: dict) -> dict:
        """The verdict of contact c when everyone is checked in one batch of a fresh mailing."""
        if c not in self.matching:
            return skip(c["id"], "not_in_mailing")
        if c["status"] == "unsubscribed":
            return skip(c["id"], "unsubscribed")
        if c["status"] == "bounced" or c["address_key"] in self.bounced:
            return skip(c["id"], "bounced")
        winner = self.winners()[self.slot(c)]
        return send(c["id"]) if winner == c["id"] else skip(c["id"], "duplicate_address", winner)


def _random_rows(rng: random.Random, n: int) -> list[list[str]]:
    addresses = [f"box{i}@example.nl" for i in range(n // 3)]
    rows = []
    for i in range(n):
        address = rng.choice(addresses)
        spelled = rng.choice([address, address.upper(), address.capitalize()])
        rows.append([f"R{i}", spelled, rng.choice(["Anna", "anna", "ANNA", "Bert", "Carl", ""]),
                     rng.choice(["Utrecht", "utrecht", "Amsterdam", ""]), rng.choice(["ja", "nee", ""]),
                     rng.choice(["", "", "", "", "", "active", "unsubscribed", "bounced"])])
    return rows


def _model_contacts(account: Account, rows: list[list[str]], times: dict[str, tuple[int, int]]) -> list[dict]:
    contacts = []
    for crm, email, first_name, city, vip, status in rows:
        fields = {"first_name": first_name or None, "city": city or None,
                  "vip": {"ja": True, "nee": False}.get(vip)}
        contacts.append({"id": account[crm], "address_key": email.lower(), "status": status or "active",
                         "fields": {k: v for k, v in fields.items() if v is not None},
                         "updated": times[crm][0], "created": times[crm][1]})
    return contacts


CONFIGURATIONS = [
    # (include rules, exclude rules, mailing settings)
    ([IN_UTRECHT], [], {}),
    ([IN_UTRECHT, {"field": "vip", "op": "eq", "value": True}],
     [{"field": "first_name", "op": "eq", "value": "bert"}], {"representative": "oldest"}),
    ([EVERYONE], [], {"allow_shared_address": True}),
    ([EVERYONE], [], {"allow_shared_address": True, "personalized_by": ["first_name"],
                      "representative": "oldest"}),
    ([IN_UTRECHT], [], {"representative": {"rule": "prefer",
                                           "when": {"field": "vip", "op": "eq", "value": True}}}),
    ([EVERYONE], [IN_UTRECHT], {"representative": {"rule": "prefer_non_empty", "field": "first_name"}}),
]


def test_preview_and_a_whole_list_check_agree_with_an_independent_model(client, make_tenant, import_rows,
                                                                         engine):
    """Random households: each mailing's preview, the verdicts of a check of everyone (shuffled), and
    the send list all match what the contract says, worked out in Python."""
    rng = random.Random(20261127)
    rows = _random_rows(rng, 90)
    account = make_account(make_tenant, import_rows, engine, rows, name="random")
    assert len(account.ids) == len(rows)
    times = {crm: (rng.randint(0, 4), rng.randint(0, 4)) for crm, *_ in rows}  # ties on purpose
    for crm, (updated, created) in times.items():
        pin_times(engine, account[crm], updated=updated, created=created)
    contacts = _model_contacts(account, rows, times)
    segment_ids: dict[str, int] = {}

    def segment(rule: dict) -> int:
        name = repr(rule)
        if name not in segment_ids:
            segment_ids[name] = create_segment(client, account, rule, name)
        return segment_ids[name]

    for include, exclude, settings in CONFIGURATIONS:
        model = Model(contacts, include, exclude, **settings)
        mailing = create_mailing(client, account, [segment(r) for r in include],
                                 exclude=[segment(r) for r in exclude], **settings)
        expected = model.preview()
        assert expected["contacts"] > expected["recipients"] > 0 or settings.get("allow_shared_address")
        assert preview(client, account, mailing) == {**expected, "claimed": 0}, settings

        batch = [c["id"] for c in contacts]
        rng.shuffle(batch)
        by_id = {c["id"]: c for c in contacts}
        assert verdicts(client, account, mailing, batch) == [model.verdict(by_id[i]) for i in batch], settings

        sent = sorted(model.winners().values())
        assert sorted(row["contact_id"] for row in ledger_table(engine, mailing)) == sent
        listed = client.get(f"/api/v1/mailings/{mailing}/recipients?limit=1000", headers=account.auth())
        assert listed.status_code == 200, listed.json
        assert sorted(r["id"] for r in listed.json["recipients"]) == sent
        assert preview(client, account, mailing) == {**expected, "claimed": len(sent)}


def test_preview_counts_of_the_household(client, household, engine, utrecht):
    """The same counts, worked out by hand: mailable Utrecht contacts are K1, K2 (one inbox) and
    K8, K9 (gina's inbox; K10 there is outside Utrecht); K3 and K11 unsubscribed, K4 bounced."""
    expected = {"contacts": 4, "excluded": 3, "addresses": 2, "recipients": 2, "collapsed": 2,
                "shared": {"2": 2, "3": 0, "4+": 0}, "claimed": 0}
    assert preview(client, household, utrecht) == expected
    everyone = create_mailing(client, household, [create_segment(client, household, EVERYONE)])
    # K1 K2 | K6 | K8 K9 K10: gina's inbox is shared by three.
    assert preview(client, household, everyone) == {
        "contacts": 6, "excluded": 5, "addresses": 3, "recipients": 3, "collapsed": 3,
        "shared": {"2": 1, "3": 1, "4+": 0}, "claimed": 0}

    # `claimed` counts clearances not released: claimed or sent.
    assert verdicts(client, household, utrecht, [household["K1"], household["K8"]]) == [
        send(household["K1"]), send(household["K8"])]
    assert preview(client, household, utrecht)["claimed"] == 2
    assert post_states(client, household, utrecht, "confirm", [household["K8"]]) == 1
    assert preview(client, household, utrecht)["claimed"] == 2
    assert post_states(client, household, utrecht, "release", [household["K1"]]) == 1
    after = preview(client, household, utrecht)
    assert after == {**expected, "claimed": 1}  # the counts of the list itself do not move
    assert preview(client, household, everyone)["claimed"] == 0  # per mailing


def test_an_email_mode_account_has_nothing_to_collapse(client, make_tenant, import_rows, engine):
    account = make_account(make_tenant, import_rows, engine, [
        ["", "a@example.nl", "A", "Utrecht", "", ""],
        ["", "B@Example.nl", "B", "Utrecht", "", ""],
        ["", "c@example.nl", "C", "Utrecht", "", "bounced"],
        ["", "d@example.nl", "D", "Amsterdam", "", ""],
    ], mode="email")
    mailing = create_mailing(client, account, [create_segment(client, account, IN_UTRECHT)])
    assert preview(client, account, mailing) == {
        "contacts": 2, "excluded": 1, "addresses": 2, "recipients": 2, "collapsed": 0,
        "shared": {"2": 0, "3": 0, "4+": 0}, "claimed": 0}
    a, b, c, d = (account[k] for k in ("a@example.nl", "b@example.nl", "c@example.nl", "d@example.nl"))
    assert verdicts(client, account, mailing, [d, c, b, a]) == [
        skip(d, "not_in_mailing"), skip(c, "bounced"), send(b), send(a)]


# --- creating mailings -----------------------------------------------------------------------------


def test_a_mailing_is_created_with_its_settings(client, household):
    utrecht = create_segment(client, household, IN_UTRECHT)
    outside = create_segment(client, household, {"field": "city", "op": "eq", "value": "Amsterdam"})
    response = client.post("/api/v1/mailings", json={
        "name": "Spring", "include": [utrecht], "exclude": [outside], "allow_shared_address": True,
        "personalized_by": ["first_name"], "representative": "oldest"}, headers=household.auth())
    assert response.status_code == 201, response.json
    mailing = response.json
    assert (mailing["name"], mailing["include"], mailing["exclude"]) == ("Spring", [utrecht], [outside])
    assert mailing["allow_shared_address"] is True and mailing["personalized_by"] == ["first_name"]
    assert mailing["representative"]["rule"] == "oldest"
    default = client.post("/api/v1/mailings", json={"name": "Plain", "include": [utrecht]},
                          headers=household.auth()).json
    assert default["allow_shared_address"] is False
    assert (default["exclude"], default["personalized_by"]) == ([], [])
    assert default["representative"]["rule"] == "most_recently_updated"


def test_mailings_refuse_bad_settings(client, household, other):
    own = create_segment(client, household, IN_UTRECHT)
    foreign = create_segment(client, other, IN_UTRECHT)

    def create(**body):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/mailings", json={"name": "m", "include": [own], **body},
                           headers=household.auth())

    for body in ({"include": [987654]}, {"include": [foreign]}, {"include": [own, foreign]},
                 {"exclude": [foreign]}, {"exclude": [987654]}, {"include": []},
                 {"personalized_by": ["first_name"]},  # without the opt-in
                 {"personalized_by": ["first_name"], "allow_shared_address": False},
                 {"allow_shared_address": True, "personalized_by": ["no_such_field"]},
                 {"representative": "loudest"},
                 {"representative": {"rule": "prefer_non_empty", "field": "no_such_field"}}):
        response = create(**body)
        assert response.status_code == 400, (body, response.json)
        assert response.json["error"]["code"], body
    assert client.get("/api/v1/mailings", headers=household.auth()).json["mailings"] == []

    assert create().status_code == 201
    duplicate = create()
    assert duplicate.status_code == 409, duplicate.json
    assert duplicate.json["error"]["code"] == "conflict"
    # Names are unique per account only.
    theirs = client.post("/api/v1/mailings", json={"name": "m", "include": [foreign]}, headers=other.auth())
    assert theirs.status_code == 201, theirs.json


# --- each reason, and their order --------------------------------------------------------------------


def test_each_reason(client, household, other, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [h["K8"]]) == [send(h["K8"])]  # K8 holds gina's inbox now
    batch = [h["K1"], 987654321, other["K1"], h["K6"], h["K3"], h["K4"], h["K8"], h["K9"]]
    assert verdicts(client, h, utrecht, batch) == [
        send(h["K1"]),
        skip(987654321, "unknown_contact"),
        skip(other["K1"], "unknown_contact"),  # another account's contact, even at a shared address
        skip(h["K6"], "not_in_mailing"),
        skip(h["K3"], "unsubscribed"),
        skip(h["K4"], "bounced"),  # active, but a contact at the address bounced
        skip(h["K8"], "already_claimed"),
        skip(h["K9"], "duplicate_address", h["K8"]),
    ]


def test_reasons_come_in_the_contract_order(client, household, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [h["K7"], h["K5"], h["K11"]]) == [
        skip(h["K7"], "not_in_mailing"),  # outside Utrecht and unsubscribed
        skip(h["K5"], "not_in_mailing"),  # outside Utrecht and bounced
        skip(h["K11"], "unsubscribed"),   # unsubscribed at a bounced address
    ]


def test_status_and_rules_come_before_already_claimed(client, household, import_rows, utrecht):
    """A contact cleared before it unsubscribed, bounced or left the segment is answered with that,
    not with already_claimed; and the others at a now bounced address are bounced, not duplicates."""
    h = household
    first = [h["K1"], h["K2"], h["K8"], h["K9"]]
    assert verdicts(client, h, utrecht, first) == [
        send(h["K1"]), skip(h["K2"], "duplicate_address", h["K1"]),
        skip(h["K8"], "duplicate_address", h["K9"]), send(h["K9"])]
    assert verdicts(client, h, utrecht, [h["K1"], h["K9"]]) == [
        skip(h["K1"], "already_claimed"), skip(h["K9"], "already_claimed")]

    reimport(import_rows, h, [["K1", "anna@example.nl", "Anna", "Utrecht", "ja", "unsubscribed"],
                              ["K10", "gina@example.nl", "Gina", "Amsterdam", "", "bounced"]])
    assert verdicts(client, h, utrecht, [h["K1"], h["K2"], h["K9"], h["K8"]]) == [
        skip(h["K1"], "unsubscribed"),
        skip(h["K2"], "duplicate_address", h["K1"]),  # K1's clearance still holds the inbox
        skip(h["K9"], "bounced"),
        skip(h["K8"], "bounced"),
    ]
    reimport(import_rows, h, [["K1", "anna@example.nl", "Anna", "Amsterdam", "ja", "unsubscribed"]])
    assert verdicts(client, h, utrecht, [h["K1"]]) == [skip(h["K1"], "not_in_mailing")]


def test_already_claimed_comes_before_duplicate_address(client, household, import_rows, utrecht):
    """K1 was cleared at anna's inbox, K8 at gina's; then K1 moved to gina's inbox. K1 was cleared
    already, which the contract puts before the other contact holding its (new) address."""
    h = household
    assert verdicts(client, h, utrecht, [h["K1"], h["K8"]]) == [send(h["K1"]), send(h["K8"])]
    reimport(import_rows, h, [["K1", "gina@example.nl", "Anna", "Utrecht", "ja", ""]])
    assert verdicts(client, h, utrecht, [h["K1"]]) == [skip(h["K1"], "already_claimed")]
    # anna's inbox is still held by K1's clearance: K2 is not cleared behind its back.
    assert verdicts(client, h, utrecht, [h["K2"]]) == [skip(h["K2"], "duplicate_address", h["K1"])]


def test_a_contact_named_twice_in_one_request(client, household, engine, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [h["K1"], h["K3"], h["K1"], h["K3"], h["K2"], h["K1"]]) == [
        send(h["K1"]), skip(h["K3"], "unsubscribed"), skip(h["K1"], "already_claimed"),
        skip(h["K3"], "unsubscribed"), skip(h["K2"], "duplicate_address", h["K1"]),
        skip(h["K1"], "already_claimed")]
    assert states(engine, utrecht) == [(h["K1"], "claimed")]


def test_rules_on_status_never_clear_unsubscribed_or_bounced_contacts(client, household, engine):
    h = household
    asks = create_segment(client, h, {"field": "status", "op": "in", "value": ["unsubscribed", "bounced"]},
                          "unsubscribed or bounced")
    segment_preview = client.get(f"/api/v1/segments/{asks}/preview", headers=h.auth()).json
    assert segment_preview["contacts"] > 0, segment_preview  # the segment itself takes them in
    also = create_segment(client, h, {"any": [{"field": "status", "op": "eq", "value": "active"},
                                              {"field": "status", "op": "eq", "value": "bounced"}]})
    mailing = create_mailing(client, h, [asks, also])
    counts = preview(client, h, mailing)
    # Everyone matches one of the two; only the six mailable contacts count, in three inboxes.
    assert (counts["contacts"], counts["excluded"], counts["recipients"]) == (6, 5, 3), counts
    batch = [h[k] for k in ("K3", "K4", "K5", "K7", "K11")]
    assert verdicts(client, h, mailing, batch) == [
        skip(h["K3"], "unsubscribed"), skip(h["K4"], "bounced"), skip(h["K5"], "bounced"),
        skip(h["K7"], "unsubscribed"), skip(h["K11"], "unsubscribed")]
    listed = client.get(f"/api/v1/mailings/{mailing}/recipients", headers=h.auth()).json["recipients"]
    assert sorted(r["id"] for r in listed) == sorted([h["K1"], h["K6"], h["K10"]])
    assert ledger_table(engine, mailing) == []


def test_a_bounce_at_an_address_excludes_every_contact_there(client, household, import_rows, utrecht):
    h = household
    reimport(import_rows, h, [["K12", "gina@example.nl", "", "Rotterdam", "", "bounced"]])
    assert preview(client, h, utrecht)["contacts"] == 2  # only anna's inbox is left
    assert verdicts(client, h, utrecht, [h["K8"], h["K9"], h["K10"]]) == [
        skip(h["K8"], "bounced"), skip(h["K9"], "bounced"), skip(h["K10"], "not_in_mailing")]


# --- the representative within one batch, first claim across batches ------------------------------

# Four contacts at one inbox, ids ascending W < X < Y < Z, so that each rule picks another one.
INBOX = [
    ["W", "inbox@example.nl", "", "Utrecht", "nee", ""],
    ["X", "INBOX@example.nl", "Xander", "Utrecht", "", ""],
    ["Y", "inbox@Example.nl", "Yara", "Utrecht", "ja", ""],
    ["Z", "inbox@example.nl", "", "Utrecht", "", ""],
    ["S", "solo@example.nl", "", "Utrecht", "", ""],
]
PICKS = [
    ("most_recently_updated", "Z"),
    ("oldest", "X"),
    ({"rule": "prefer", "when": {"field": "vip", "op": "eq", "value": True}}, "Y"),
    ({"rule": "prefer_non_empty", "field": "first_name"}, "X"),  # X and Y have one: the lower id wins
    ({"rule": "prefer", "when": {"field": "city", "op": "eq", "value": "Paris"}}, "W"),  # nobody: lowest id
]


@pytest.fixture
def inbox(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    account = make_account(make_tenant, import_rows, engine, INBOX, name="inbox")
    assert account["W"] < account["X"] < account["Y"] < account["Z"]
    for name, updated, created in (("W", 1, 4), ("X", 2, 1), ("Y", 3, 3), ("Z", 4, 2), ("S", 0, 0)):
        pin_times(engine, account[name], updated=updated, created=created)
    return account


@pytest.mark.parametrize(("rule", "winner"), PICKS, ids=["recent", "oldest", "prefer", "non_empty", "tie"])
def test_the_representative_rule_picks_within_a_batch(client, inbox, rule, winner):
    segment = create_segment(client, inbox, IN_UTRECHT)
    orders = [["W", "X", "Y", "Z"], ["Z", "Y", "X", "W"], ["Y", "S", "W", "Z", "X"]]
    for n, order in enumerate(orders):
        # A fresh mailing per order: the request's order must not matter.
        mailing = create_mailing(client, inbox, [segment], representative=rule, name=f"m{n}")
        expected = [send(inbox[name]) if name in (winner, "S")
                    else skip(inbox[name], "duplicate_address", inbox[winner]) for name in order]
        assert verdicts(client, inbox, mailing, [inbox[name] for name in order]) == expected, order
    # The send list names the same representative.
    listed = client.get(f"/api/v1/mailings/{mailing}/recipients", headers=inbox.auth()).json["recipients"]
    assert sorted(r["id"] for r in listed) == sorted([inbox[winner], inbox["S"]])


def test_the_representative_is_picked_among_the_mailable_contacts_only(client, inbox, import_rows):
    """Z would win by the default rule; unsubscribed, or outside the mailing, it leaves the address to
    the next one (Y), which is cleared rather than skipped for a contact that cannot be sent to."""
    segment = create_segment(client, inbox, IN_UTRECHT)
    mailing = create_mailing(client, inbox, [segment], name="first")
    reimport(import_rows, inbox, [["Z", "inbox@example.nl", "", "Utrecht", "", "unsubscribed"]])
    assert verdicts(client, inbox, mailing, [inbox[n] for n in ("W", "X", "Y", "Z")]) == [
        skip(inbox["W"], "duplicate_address", inbox["Y"]), skip(inbox["X"], "duplicate_address", inbox["Y"]),
        send(inbox["Y"]), skip(inbox["Z"], "unsubscribed")]

    reimport(import_rows, inbox, [["Z", "inbox@example.nl", "", "Amsterdam", "", "active"]])
    second = create_mailing(client, inbox, [segment], name="second")
    assert verdicts(client, inbox, second, [inbox[n] for n in ("Z", "X", "Y")]) == [
        skip(inbox["Z"], "not_in_mailing"), skip(inbox["X"], "duplicate_address", inbox["Y"]),
        send(inbox["Y"])]


def test_across_batches_the_first_claim_wins(client, inbox):
    segment = create_segment(client, inbox, IN_UTRECHT)
    mailing = create_mailing(client, inbox, [segment])  # Z is the representative
    assert verdicts(client, inbox, mailing, [inbox["W"]]) == [send(inbox["W"])]
    assert verdicts(client, inbox, mailing, [inbox[n] for n in ("Z", "Y", "W")]) == [
        skip(inbox["Z"], "duplicate_address", inbox["W"]), skip(inbox["Y"], "duplicate_address", inbox["W"]),
        skip(inbox["W"], "already_claimed")]
    # Another mailing has its own ledger: there the rule picks Z.
    other = create_mailing(client, inbox, [segment], name="other")
    assert verdicts(client, inbox, other, [inbox["W"], inbox["Z"]]) == [
        skip(inbox["W"], "duplicate_address", inbox["Z"]), send(inbox["Z"])]


# --- the opt-in and personalised copies ---------------------------------------------------------


def test_with_the_opt_in_each_contact_gets_its_own_copy(client, inbox, engine):
    segment = create_segment(client, inbox, IN_UTRECHT)
    mailing = create_mailing(client, inbox, [segment], allow_shared_address=True)
    assert preview(client, inbox, mailing)["recipients"] == 5
    assert verdicts(client, inbox, mailing, [inbox["Z"], inbox["W"]]) == [send(inbox["Z"]), send(inbox["W"])]
    assert verdicts(client, inbox, mailing, [inbox[n] for n in ("W", "X", "Y", "X")]) == [
        skip(inbox["W"], "already_claimed"), send(inbox["X"]), send(inbox["Y"]),
        skip(inbox["X"], "already_claimed")]
    assert sorted(c for c, _ in states(engine, mailing)) == sorted(inbox[n] for n in "WXYZ")


FAMILY = [
    ["F1", "family@example.nl", "Sanne", "Utrecht", "", ""],
    ["F2", "family@example.nl", "Piet", "Utrecht", "", ""],
    ["F3", "Family@example.nl", "sanne", "Utrecht", "", ""],  # Sanne again, under a second ID
    ["F4", "family@example.nl", "", "Utrecht", "", ""],
    ["F5", "family@example.nl", "", "Utrecht", "", ""],       # no name either: the same greeting
    ["F6", "other@example.nl", "Sanne", "Utrecht", "", ""],   # another Sanne, at another inbox
]


@pytest.fixture
def family(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    account = make_account(make_tenant, import_rows, engine, FAMILY, name="family")
    for crm, day in {"F1": 1, "F2": 1, "F3": 2, "F4": 1, "F5": 1, "F6": 1}.items():
        pin_times(engine, account[crm], updated=day)  # F3 is the more recent Sanne
    return account


def test_personalized_copies_one_per_combination_at_an_address(client, family, engine):
    f = family
    mailing = create_mailing(client, f, [create_segment(client, f, IN_UTRECHT)],
                             allow_shared_address=True, personalized_by=["first_name"])
    counts = preview(client, f, mailing)
    assert [counts[k] for k in ("contacts", "addresses", "recipients", "collapsed")] == [6, 2, 4, 2]
    assert verdicts(client, f, mailing, [f[k] for k in ("F1", "F2", "F3", "F4", "F5", "F6")]) == [
        skip(f["F1"], "duplicate_address", f["F3"]),  # the same person: one copy (case does not matter)
        send(f["F2"]),                                # a family member with another name: a copy of its own
        send(f["F3"]),
        send(f["F4"]),                                # F4 and F5 tie; the lower id wins
        skip(f["F5"], "duplicate_address", f["F4"]),
        send(f["F6"]),
    ]
    assert sorted(c for c, _ in states(engine, mailing)) == sorted(f[k] for k in ("F2", "F3", "F4", "F6"))


def test_personalized_copies_across_batches(client, family):
    f = family
    mailing = create_mailing(client, f, [create_segment(client, f, IN_UTRECHT)],
                             allow_shared_address=True, personalized_by=["first_name"])
    assert verdicts(client, f, mailing, [f["F1"]]) == [send(f["F1"])]
    assert verdicts(client, f, mailing, [f["F3"], f["F2"], f["F1"]]) == [
        skip(f["F3"], "duplicate_address", f["F1"]), send(f["F2"]), skip(f["F1"], "already_claimed")]


def test_personalisation_ignores_case_beyond_ascii_too(client, make_tenant, import_rows, engine):
    """Élise imported twice (as "Élise" and "élise") is one person: one copy, on either database."""
    account = make_account(make_tenant, import_rows, engine, [
        ["F1", "home@example.nl", "Élise", "Utrecht", "", ""],
        ["F2", "home@example.nl", "élise", "Utrecht", "", ""],
        ["F3", "home@example.nl", "ÖZIL", "Utrecht", "", ""],
        ["F4", "home@example.nl", "Özil", "Utrecht", "", ""],
    ], name="accents")
    for crm in ("F1", "F2", "F3", "F4"):
        pin_times(engine, account[crm], updated=1)  # ties: the lower id wins
    mailing = create_mailing(client, account, [create_segment(client, account, IN_UTRECHT)],
                             allow_shared_address=True, personalized_by=["first_name"])
    assert preview(client, account, mailing)["recipients"] == 2
    assert verdicts(client, account, mailing, [account[k] for k in ("F1", "F2", "F3", "F4")]) == [
        send(account["F1"]), skip(account["F2"], "duplicate_address", account["F1"]),
        send(account["F3"]), skip(account["F4"], "duplicate_address", account["F3"])]


def test_without_the_opt_in_the_family_gets_one_copy(client, family):
    f = family
    mailing = create_mailing(client, f, [create_segment(client, f, IN_UTRECHT)])
    results = verdicts(client, f, mailing, [f[k] for k in ("F1", "F2", "F3", "F4", "F5")])
    assert [r["contact"] for r in results if r["verdict"] == "send"] == [f["F3"]]
    assert all(r.get("duplicate_of") == f["F3"] for r in results if r["verdict"] == "skip")


# --- idempotent retries ----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_same_answer_and_claims_nothing(client, household, engine,
                                                                          utrecht):
    h = household
    batch = [h["K1"], h["K2"], h["K3"], h["K9"]]
    first = check(client, h, utrecht, batch, key="batch-1")
    assert first.status_code == 200, first.json
    assert first.json["results"] == [send(h["K1"], "anna@example.nl"),
                                     skip(h["K2"], "duplicate_address", h["K1"]),
                                     skip(h["K3"], "unsubscribed"), send(h["K9"], "GINA@example.nl")]
    ledger = ledger_table(engine, utrecht)
    for _ in range(2):
        again = check(client, h, utrecht, batch, key="batch-1")
        assert again.status_code == 200, again.json
        assert again.json == first.json  # not already_claimed: the same answer
        assert ledger_table(engine, utrecht) == ledger
    # Without the key it is a new check.
    assert verdicts(client, h, utrecht, batch)[0] == skip(h["K1"], "already_claimed")

    # Even after a release the retry answers as before and takes nothing back.
    assert post_states(client, h, utrecht, "release", [h["K1"]]) == 1
    released = ledger_table(engine, utrecht)
    assert check(client, h, utrecht, batch, key="batch-1").json == first.json
    assert ledger_table(engine, utrecht) == released
    assert preview(client, h, utrecht)["claimed"] == 1


def test_the_same_key_with_another_body_is_refused(client, household, engine, utrecht):
    h = household
    assert check(client, h, utrecht, [h["K1"]], key="k").status_code == 200
    ledger = ledger_table(engine, utrecht)
    for body in ([h["K9"]], [h["K1"], h["K9"]], []):
        refused = check(client, h, utrecht, body, key="k")
        assert refused.status_code == 409, refused.json
        assert refused.json["error"]["code"] == "idempotency_conflict"
    refused = check(client, h, utrecht, addresses=["gina@example.nl"], key="k")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "idempotency_conflict"
    assert ledger_table(engine, utrecht) == ledger  # K9 was not claimed by any of them


def test_idempotency_keys_are_scoped_to_the_mailing(client, household, engine, utrecht):
    h = household
    second = create_mailing(client, h, [create_segment(client, h, EVERYONE)], name="everyone")
    assert verdicts(client, h, utrecht, [h["K1"]], key="shared") == [send(h["K1"])]
    # The same key on another mailing is a request of its own, with any body.
    assert verdicts(client, h, second, [h["K6"], h["K2"]], key="shared") == [send(h["K6"]), send(h["K2"])]
    assert sorted(states(engine, second)) == sorted([(h["K6"], "claimed"), (h["K2"], "claimed")])
    assert states(engine, utrecht) == [(h["K1"], "claimed")]
    assert check(client, h, utrecht, [h["K1"]], key="shared").json["results"] == [
        send(h["K1"], "anna@example.nl")]


def test_a_bad_idempotency_key_is_refused(client, household, engine, utrecht):
    response = check(client, household, utrecht, [household["K1"]], key="x" * 201)
    assert response.status_code == 400, response.json
    assert ledger_table(engine, utrecht) == []


# --- release and confirm ---------------------------------------------------------------------------


def test_a_release_frees_the_address_for_another_contact(client, household, engine, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [h["K2"]]) == [send(h["K2"])]
    assert verdicts(client, h, utrecht, [h["K1"]]) == [skip(h["K1"], "duplicate_address", h["K2"])]
    assert post_states(client, h, utrecht, "release", [h["K2"], h["K8"], 987654]) == 1  # only K2 held one
    assert post_states(client, h, utrecht, "release", [h["K2"]]) == 0  # released already
    assert verdicts(client, h, utrecht, [h["K1"]]) == [send(h["K1"])]
    assert verdicts(client, h, utrecht, [h["K2"]]) == [skip(h["K2"], "duplicate_address", h["K1"])]
    # Released, K1's turn is over too; the released K2 may be cleared again.
    assert post_states(client, h, utrecht, "release", [h["K1"]]) == 1
    assert verdicts(client, h, utrecht, [h["K2"]]) == [send(h["K2"])]
    assert states(engine, utrecht) == [(h["K2"], "released"), (h["K1"], "released"), (h["K2"], "claimed")]
    assert dict(Counter(row["address_key"] for row in ledger_table(engine, utrecht)
                        if row["state"] != "released")) == {"anna@example.nl": 1}


def test_confirm_marks_claims_sent_and_a_sent_claim_stays(client, household, engine, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [h["K1"]]) == [send(h["K1"])]
    assert verdicts(client, h, utrecht, [h["K9"]]) == [send(h["K9"])]
    assert post_states(client, h, utrecht, "confirm", [h["K1"], h["K3"], 987654]) == 1
    assert post_states(client, h, utrecht, "confirm", [h["K1"]]) == 0  # sent already
    assert post_states(client, h, utrecht, "release", [h["K1"]]) == 0  # a sent mail cannot be taken back
    assert states(engine, utrecht) == [(h["K1"], "sent"), (h["K9"], "claimed")]
    assert verdicts(client, h, utrecht, [h["K1"], h["K2"]]) == [
        skip(h["K1"], "already_claimed"), skip(h["K2"], "duplicate_address", h["K1"])]
    # A released claim cannot be confirmed.
    assert post_states(client, h, utrecht, "release", [h["K9"]]) == 1
    assert post_states(client, h, utrecht, "confirm", [h["K9"]]) == 0
    assert states(engine, utrecht) == [(h["K1"], "sent"), (h["K9"], "released")]


def test_release_and_confirm_touch_one_mailing_only(client, household, engine, utrecht):
    h = household
    everyone = create_mailing(client, h, [create_segment(client, h, EVERYONE)], name="everyone")
    for mailing in (utrecht, everyone):
        assert verdicts(client, h, mailing, [h["K1"]]) == [send(h["K1"])]
    assert post_states(client, h, utrecht, "release", [h["K1"]]) == 1
    assert post_states(client, h, everyone, "confirm", [h["K1"]]) == 1
    assert states(engine, utrecht) == [(h["K1"], "released")]
    assert states(engine, everyone) == [(h["K1"], "sent")]


# --- the ledger ------------------------------------------------------------------------------------


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0, value  # type: ignore[union-attr]
    return moment


def test_the_ledger_answers_who_was_cleared_sent_and_released(client, household, utrecht):
    h = household
    verdicts(client, h, utrecht, [h["K1"]])
    verdicts(client, h, utrecht, [h["K9"]])
    post_states(client, h, utrecht, "confirm", [h["K1"]])
    post_states(client, h, utrecht, "release", [h["K9"]])
    verdicts(client, h, utrecht, [h["K8"]])
    response = client.get(f"/api/v1/mailings/{utrecht}/ledger", headers=h.auth())
    assert response.status_code == 200, response.json
    entries = response.json["entries"]
    assert response.json["next_cursor"] is None
    assert [(e["contact"], e["address_key"], e["state"]) for e in entries] == [
        (h["K1"], "anna@example.nl", "sent"), (h["K9"], "gina@example.nl", "released"),
        (h["K8"], "gina@example.nl", "claimed")]
    sent, released, claimed = entries
    assert _moment(sent["sent_at"]) >= _moment(sent["claimed_at"]) and sent["released_at"] is None
    assert _moment(released["released_at"]) >= _moment(released["claimed_at"])
    assert released["sent_at"] is None
    assert claimed["sent_at"] is None and claimed["released_at"] is None
    assert _moment(claimed["claimed_at"]) >= _moment(released["released_at"])


def test_the_ledger_is_paged_and_streamed_as_csv(client, make_tenant, import_rows, engine):
    rows = [[f"P{i}", f"p{i}@example.nl", "", "Utrecht", "", ""] for i in range(7)]
    account = make_account(make_tenant, import_rows, engine, rows, name="pages")
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    order = [account[f"P{i}"] for i in (3, 0, 6, 1, 5, 2, 4)]
    for i in range(0, 7, 3):  # three checks: the ledger keeps the order of the claims
        verdicts(client, account, mailing, order[i:i + 3])
    post_states(client, account, mailing, "release", [order[1]])

    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor is not None else "")
        page = client.get(f"/api/v1/mailings/{mailing}/ledger{query}", headers=account.auth())
        assert page.status_code == 200, page.json
        assert len(page.json["entries"]) <= 3
        seen += page.json["entries"]
        pages += 1
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    # Claims of one check come in an order of their own; the checks come in the order they were made.
    contacts = [e["contact"] for e in seen]
    assert [set(contacts[i:i + 3]) for i in range(0, 7, 3)] == [set(order[i:i + 3]) for i in range(0, 7, 3)]
    assert len(set(contacts)) == 7
    assert {e["contact"]: e["state"] for e in seen} == {
        c: "released" if c == order[1] else "claimed" for c in order}
    whole = client.get(f"/api/v1/mailings/{mailing}/ledger", headers=account.auth()).json["entries"]
    assert whole == seen

    response = client.get(f"/api/v1/mailings/{mailing}/ledger?format=csv", headers=account.auth())
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    records = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert records[0] == ["contact", "address_key", "address", "state", "claimed_at", "sent_at",
                          "released_at", "event", "event_at"]
    assert len(records) == 8
    for record, entry in zip(records[1:], seen, strict=True):
        assert [int(record[0]), *record[1:4]] == [entry[k] for k in ("contact", "address_key", "address",
                                                                      "state")]
        assert "@" in entry["address"] and entry["event"] is None and entry["event_at"] is None
        assert _moment(record[4]) == _moment(entry["claimed_at"])
        assert record[5] == "" and (record[6] == "") == (entry["released_at"] is None)
        assert record[7:] == ["", ""]
    for bad in ("?limit=0", "?limit=abc", "?cursor=-1", "?format=xml"):
        response = client.get(f"/api/v1/mailings/{mailing}/ledger{bad}", headers=account.auth())
        assert response.status_code == 400, bad


# --- include and exclude, by address ---------------------------------------------------------------


def test_exclude_segments_take_contacts_out(client, household, engine):
    h = household
    everyone = create_segment(client, h, EVERYONE)
    amsterdam = create_segment(client, h, {"field": "city", "op": "eq", "value": "Amsterdam"})
    no_name = create_segment(client, h, {"not": {"field": "first_name", "op": "is_not_empty"}})
    mailing = create_mailing(client, h, [everyone], exclude=[amsterdam, no_name])
    # Left: K1 K2 at anna's inbox, and K8 at gina's (K9 has no name, K10 lives in Amsterdam).
    counts = preview(client, h, mailing)
    assert (counts["contacts"], counts["addresses"], counts["recipients"]) == (3, 2, 2), counts
    # K10 (most recently updated at gina's inbox) and K9 are out: K8 represents the inbox.
    assert verdicts(client, h, mailing, [h["K10"], h["K9"], h["K8"], h["K6"], h["K3"]]) == [
        skip(h["K10"], "not_in_mailing"), skip(h["K9"], "not_in_mailing"), send(h["K8"]),
        skip(h["K6"], "not_in_mailing"), skip(h["K3"], "unsubscribed")]
    # Included twice over (a union), still one contact.
    union = create_mailing(client, h, [create_segment(client, h, IN_UTRECHT, "u"), everyone], name="union")
    assert preview(client, h, union)["contacts"] == 6


def test_a_check_by_address(client, household, other, utrecht):
    h = household
    asked = ["  ANNA@example.nl ", "nobody@example.nl", "gina@EXAMPLE.nl", "carl@example.nl",
             "eve@example.nl", "zoe@example.nl", "not an address", "anna@example.nl"]
    results = verdicts(client, h, utrecht, addresses=asked)
    assert results == [
        send(h["K1"], "anna@example.nl"),  # the representative of anna's inbox, at its address
        {"address": asked[1], **skip(None, "unknown_contact")},
        send(h["K9"], "GINA@example.nl"),  # a send names the contact's address, not the one asked
        {"address": asked[3], **skip(h["K3"], "unsubscribed")},
        {"address": asked[4], **skip(h["K6"], "not_in_mailing")},
        {"address": asked[5], **skip(None, "unknown_contact")},  # only the other account has zoe
        {"address": asked[6], **skip(None, "unknown_contact")},
        {"address": asked[7], **skip(h["K1"], "already_claimed")},
    ]


def test_a_check_by_address_after_a_claim_by_id(client, household, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [h["K2"]]) == [send(h["K2"])]
    assert verdicts(client, h, utrecht, addresses=["anna@example.nl"]) == [
        {"address": "anna@example.nl", **skip(h["K1"], "duplicate_address", h["K2"])}]


# A batch over the limit is 413 limit_exceeded (tests/integration/test_limits.py).
@pytest.mark.parametrize("body", [{}, {"contacts": [1], "addresses": ["a@example.nl"]}, {"contacts": "1"},
                                  {"addresses": [1, 2]}])
def test_a_bad_check_body_is_refused(client, household, engine, utrecht, body):
    response = client.post(f"/api/v1/mailings/{utrecht}/check", json=body, headers=household.auth("send"))
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"]
    assert ledger_table(engine, utrecht) == []


def test_a_batch_of_the_maximum_size_is_answered(client, household, utrecht):
    batch = [household["K1"], *range(10_000_000, 10_000_000 + 9_999)]
    results = verdicts(client, household, utrecht, batch)
    assert results[0] == send(household["K1"])
    assert {r["reason"] for r in results[1:]} == {"unknown_contact"}


# --- ids out of range -----------------------------------------------------------------------------

BEYOND_32_BITS = 2**31  # a valid id for a client (JSON numbers, 64-bit ids), unknown here


def test_a_contact_id_beyond_32_bits_is_an_unknown_contact(client, household, engine, utrecht):
    h = household
    assert verdicts(client, h, utrecht, [BEYOND_32_BITS, h["K1"], -1, 0]) == [
        skip(BEYOND_32_BITS, "unknown_contact"), send(h["K1"]), skip(-1, "unknown_contact"),
        skip(0, "unknown_contact")]
    assert post_states(client, h, utrecht, "release", [BEYOND_32_BITS]) == 0
    assert post_states(client, h, utrecht, "confirm", [BEYOND_32_BITS]) == 0
    # Beyond 64 bits a refusal of the request is fair too, but never a server error.
    response = check(client, h, utrecht, [2**63, 2**70])
    assert response.status_code in (200, 400), response.json
    if response.status_code == 200:
        assert [r["reason"] for r in response.json["results"]] == ["unknown_contact"] * 2


def test_a_mailing_id_beyond_32_bits_is_not_found(client, household, utrecht):
    h = household
    for method, suffix, scope in (("GET", "", "manage"), ("GET", "/preview", "manage"),
                                  ("GET", "/ledger", "manage"), ("POST", "/check", "send"),
                                  ("POST", "/release", "send"), ("POST", "/confirm", "send")):
        response = client.open(f"/api/v1/mailings/{BEYOND_32_BITS}{suffix}", method=method,
                               json={"contacts": [h["K1"]]} if method == "POST" else None,
                               headers=h.auth(scope))
        assert response.status_code == 404, (suffix, response.json)
    response = client.post("/api/v1/mailings", json={"name": "far", "include": [BEYOND_32_BITS]},
                           headers=h.auth())
    assert response.status_code == 400, response.json


def test_a_ledger_cursor_beyond_every_id_is_an_empty_page(client, household, utrecht):
    h = household
    verdicts(client, h, utrecht, [h["K1"]])
    for cursor in (BEYOND_32_BITS, 2**63, 2**70):
        response = client.get(f"/api/v1/mailings/{utrecht}/ledger?cursor={cursor}", headers=h.auth())
        assert response.status_code in (200, 400), (cursor, response.json)
        if response.status_code == 200:
            assert response.json == {"entries": [], "next_cursor": None}, cursor


# --- scopes and tenants ------------------------------------------------------------------------------


def test_scopes(client, household, engine, utrecht):
    h = household
    segment = create_segment(client, h, EVERYONE)
    manage_only = [("GET", "preview", None), ("GET", "ledger", None), ("GET", "recipients", None)]
    send_only = [("POST", "check", {"contacts": [h["K1"]]}), ("POST", "release", {"contacts": [h["K1"]]}),
                 ("POST", "confirm", {"contacts": [h["K1"]]})]
    for method, action, body in manage_only:
        path = f"/api/v1/mailings/{utrecht}/{action}"
        assert client.open(path, method=method, json=body, headers=h.auth("send")).status_code == 403
        assert client.open(path, method=method, json=body, headers=h.auth("admin")).status_code == 200
        assert client.open(path, method=method, json=body).status_code == 401
    for method, action, body in send_only:
        path = f"/api/v1/mailings/{utrecht}/{action}"
        response = client.open(path, method=method, json=body, headers=h.auth("manage"))
        assert response.status_code == 403, (action, response.json)
        assert response.json["error"]["code"] == "forbidden"
        assert client.open(path, method=method, json=body).status_code == 401
        wrong = client.open(path, method=method, json=body, headers={"Authorization": "Bearer nonsense"})
        assert wrong.status_code == 401
    assert ledger_table(engine, utrecht) == []  # none of the refused checks claimed anything
    created = client.post("/api/v1/mailings", json={"name": "by send key", "include": [segment]},
                          headers=h.auth("send"))
    assert created.status_code == 403
    assert client.get("/api/v1/mailings", headers=h.auth()).json["mailings"][0]["id"] == utrecht
    assert len(client.get("/api/v1/mailings", headers=h.auth()).json["mailings"]) == 1


def test_another_accounts_key_finds_no_mailing(client, household, other, engine, utrecht):
    h = household
    verdicts(client, h, utrecht, [h["K1"]])
    attempts = [("GET", "", None, "manage"), ("GET", "/preview", None, "manage"),
                ("GET", "/ledger", None, "manage"), ("GET", "/recipients", None, "manage"),
                ("POST", "/check", {"contacts": [other["K1"]]}, "send"),
                ("POST", "/release", {"contacts": [h["K1"]]}, "send"),
                ("POST", "/confirm", {"contacts": [h["K1"]]}, "send")]
    for method, suffix, body, scope in attempts:
        response = client.open(f"/api/v1/mailings/{utrecht}{suffix}", method=method, json=body,
                               headers=other.auth(scope))
        assert response.status_code == 404, (suffix, response.json)
        assert response.json["error"]["code"] == "not_found"
        unknown = client.open(f"/api/v1/mailings/987654{suffix}", method=method, json=body,
                              headers=h.auth(scope))
        assert unknown.status_code == 404, (suffix, unknown.json)
    assert states(engine, utrecht) == [(h["K1"], "claimed")]
    assert client.get("/api/v1/mailings", headers=other.auth()).json["mailings"] == []


def test_a_mailing_never_clears_another_accounts_contacts(client, household, other, engine):
    """The other account's mailing, asked about the household's contacts: all unknown; and the
    household's claim at a shared address does not block the other account's contact there."""
    h = household
    theirs = create_mailing(client, other, [create_segment(client, other, EVERYONE)])
    ours = create_mailing(client, h, [create_segment(client, h, EVERYONE)])
    assert verdicts(client, h, ours, [h["K1"]]) == [send(h["K1"])]
    assert verdicts(client, other, theirs, [h["K1"], h["K2"], other["K1"]]) == [
        skip(h["K1"], "unknown_contact"), skip(h["K2"], "unknown_contact"), send(other["K1"])]
    assert post_states(client, other, theirs, "release", [h["K1"]]) == 0
    assert post_states(client, other, theirs, "confirm", [h["K1"]]) == 0
    assert states(engine, ours) == [(h["K1"], "claimed")]
    with engine.connect() as conn:
        foreign = conn.execute(text("SELECT count(*) FROM send_ledger WHERE mailing_id = :m AND contact_id "
                                    "NOT IN (SELECT id FROM contacts WHERE account_id = :a)"),
                               {"m": theirs, "a": other.id}).scalar_one()
    assert foreign == 0
