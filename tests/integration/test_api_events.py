"""POST /api/v1/events: the mailing system's unsubscribes, complaints and bounces, through the real
API on both databases; statuses, history and the send ledger read back from the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mailing_helpers import EVERYONE, create_mailing, create_segment, make_account, verdicts
from sqlalchemy import text

ROWS = [
    ["A1", "shared@example.nl", "Anna", "Utrecht", "", ""],
    ["A2", "SHARED@example.nl", "Bert", "Utrecht", "", ""],   # the same inbox as A1
    ["B1", "bob@example.nl", "Bob", "Utrecht", "", ""],
    ["C1", "carl@example.nl", "Carl", "Utrecht", "", ""],
]


@pytest.fixture
def account(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    return make_account(make_tenant, import_rows, engine, ROWS)


@pytest.fixture
def other(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    return make_account(make_tenant, import_rows, engine, [["Z1", "zoe@example.nl", "", "", "", ""]],
                        name="other")


def post_events(client, account, events: Any, scope: str = "send"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/events", json={"events": events} if isinstance(events, list) else events,
                       headers=account.auth(scope))


def report(client, account, events: list) -> list[str]:  # type: ignore[no-untyped-def]
    """POST events that must be answered; return their statuses (messages asserted present on invalid)."""
    response = post_events(client, account, events)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert len(results) == len(events)
    for result in results:
        assert ("message" in result) == (result["status"] == "invalid"), result
    return [r["status"] for r in results]


def statuses(engine, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every contact's status, by CRM number."""
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, status FROM contacts WHERE account_id = :a"),
                                 {"a": account.id}).all())
    return {crm: rows[contact_id] for crm, contact_id in account.ids.items()}


def history(engine, account) -> list[dict]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT contact_id, status_from, status_to, source, source_id, detail, at "
            "FROM contact_status_history WHERE account_id = :a ORDER BY id"), {"a": account.id}).mappings()]


def recorded_events(engine, account) -> list[dict]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT id, event_id, type, contact_id, address_key, mailing_id, detail "
            "FROM contact_events WHERE account_id = :a ORDER BY id"), {"a": account.id}).mappings()]


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


ACTIVE = {"A1": "active", "A2": "active", "B1": "active", "C1": "active"}


# --- each type, by contact and by address ----------------------------------------------------------


def test_an_unsubscribe_by_contact_opts_out_that_contact_only(client, account, engine):
    assert report(client, account, [{"type": "unsubscribe", "contact": account["A1"]}]) == ["applied"]
    assert statuses(engine, account) == {**ACTIVE, "A1": "unsubscribed"}


def test_an_unsubscribe_by_address_opts_out_everyone_at_it(client, account, engine):
    assert report(client, account, [{"type": "unsubscribe", "address": " Shared@Example.NL "}]) == ["applied"]
    assert statuses(engine, account) == {**ACTIVE, "A1": "unsubscribed", "A2": "unsubscribed"}


@pytest.mark.parametrize(("kind", "status"), [("complaint", "unsubscribed"), ("hard_bounce", "bounced")])
@pytest.mark.parametrize("by", ["contact", "address"])
def test_complaints_and_hard_bounces_concern_everyone_at_the_address(client, account, engine, kind, status,
                                                                     by):
    named = {"contact": account["A2"]} if by == "contact" else {"address": "shared@example.nl"}
    assert report(client, account, [{"type": kind, **named}]) == ["applied"]
    assert statuses(engine, account) == {**ACTIVE, "A1": status, "A2": status}


@pytest.mark.parametrize("by", ["contact", "address"])
def test_the_third_soft_bounce_within_30_days_bounces_the_address_across_batches(client, account, engine,
                                                                                  by):
    named = {"contact": account["B1"]} if by == "contact" else {"address": "bob@example.nl"}
    events = [{"type": "soft_bounce", **named, "occurred_at": ago(days), "event_id": f"s{days}"}
              for days in (20, 10)]
    assert report(client, account, events) == ["applied", "applied"]
    assert statuses(engine, account) == ACTIVE  # two are counted, nothing more
    assert report(client, account, [{"type": "soft_bounce", **named, "event_id": "s0"}]) == ["applied"]
    assert statuses(engine, account) == {**ACTIVE, "B1": "bounced"}
    [change] = history(engine, account)
    assert (change["status_from"], change["status_to"], change["source"]) == ("active", "bounced", "event")
    assert change["source_id"] == recorded_events(engine, account)[-1]["id"]  # the third one did it


def test_three_soft_bounces_spread_over_more_than_30_days_do_not_bounce(client, account, engine):
    spread = [{"type": "soft_bounce", "address": "bob@example.nl", "occurred_at": ago(days)}
              for days in (64, 36)]
    assert report(client, account, spread) == ["applied", "applied"]
    assert report(client, account, [{"type": "soft_bounce", "contact": account["B1"]}]) == ["applied"]
    assert statuses(engine, account) == ACTIVE
    # One that arrives late, between them, makes three within 30 days of each other.
    assert report(client, account, [{"type": "soft_bounce", "address": "bob@example.nl",
                                     "occurred_at": ago(50)}]) == ["applied"]
    assert statuses(engine, account) == {**ACTIVE, "B1": "bounced"}


def test_soft_bounces_count_per_address_not_per_contact(client, account, engine):
    events = [{"type": "soft_bounce", "contact": account["A1"]},
              {"type": "soft_bounce", "contact": account["A2"]},
              {"type": "soft_bounce", "contact": account["B1"]},
              {"type": "soft_bounce", "address": "shared@example.nl"}]
    assert report(client, account, events) == ["applied"] * 4
    assert statuses(engine, account) == {**ACTIVE, "A1": "bounced", "A2": "bounced"}


# --- most restrictive wins, history ----------------------------------------------------------------


def test_a_bounced_contact_never_becomes_unsubscribed_and_history_names_each_event(client, account, engine):
    events = [{"type": "unsubscribe", "contact": account["A1"], "event_id": "e1"},
              {"type": "hard_bounce", "address": "shared@example.nl", "event_id": "e2",
               "detail": "550 no such user"},
              {"type": "complaint", "contact": account["A1"], "event_id": "e3"},
              {"type": "unsubscribe", "address": "shared@example.nl", "event_id": "e4"}]
    assert report(client, account, events) == ["applied"] * 4
    assert statuses(engine, account) == {**ACTIVE, "A1": "bounced", "A2": "bounced"}
    row_of = {e["event_id"]: e["id"] for e in recorded_events(engine, account)}
    assert [(h["contact_id"], h["status_from"], h["status_to"], h["source"], h["source_id"], h["detail"])
            for h in history(engine, account)] == [
        (account["A1"], "active", "unsubscribed", "event", row_of["e1"], "unsubscribe"),
        (account["A1"], "unsubscribed", "bounced", "event", row_of["e2"], "550 no such user"),
        (account["A2"], "active", "bounced", "event", row_of["e2"], "550 no such user"),
    ]
    assert report(client, account, [{"type": "unsubscribe", "contact": account["A2"]}]) == ["applied"]
    assert len(history(engine, account)) == 3  # already opted out further: nothing to record


def test_an_event_makes_the_check_skip_the_contact(client, account):
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    assert report(client, account, [{"type": "unsubscribe", "contact": account["C1"]},
                                    {"type": "hard_bounce", "address": "bob@example.nl"}]) == ["applied"] * 2
    answers = verdicts(client, account, mailing, [account["C1"], account["B1"]])
    assert [a.get("reason") for a in answers] == ["unsubscribed", "bounced"]


# --- duplicates ------------------------------------------------------------------------------------


def test_an_event_id_seen_before_is_a_duplicate_within_a_batch_and_across_batches(client, account, engine):
    batch = [{"type": "unsubscribe", "contact": account["A1"], "event_id": "x1"},
             {"type": "hard_bounce", "contact": account["A1"], "event_id": "x1"},  # the same id again
             {"type": "soft_bounce", "address": "bob@example.nl", "event_id": "x2"},
             {"type": "soft_bounce", "address": "bob@example.nl"},  # no id: never a duplicate
             {"type": "soft_bounce", "address": "bob@example.nl"}]
    assert report(client, account, batch) == ["applied", "duplicate", "applied", "applied", "applied"]
    assert statuses(engine, account) == {**ACTIVE, "A1": "unsubscribed", "B1": "bounced"}
    before = (recorded_events(engine, account), history(engine, account), statuses(engine, account))
    with_ids = [e for e in batch if "event_id" in e]
    assert report(client, account, with_ids) == ["duplicate"] * 3  # resent: nothing changes
    assert (recorded_events(engine, account), history(engine, account), statuses(engine, account)) == before


def test_event_ids_belong_to_the_account(client, account, other, engine):
    assert report(client, account, [{"type": "unsubscribe", "contact": account["C1"], "event_id": "e"}]) == [
        "applied"]
    assert report(client, other, [{"type": "unsubscribe", "contact": other["Z1"], "event_id": "e"}]) == [
        "applied"]
    assert statuses(engine, other) == {"Z1": "unsubscribed"}


def test_an_unknown_first_use_of_an_event_id_does_not_make_the_next_a_duplicate(client, account, engine):
    batch = [{"type": "unsubscribe", "address": "nobody@example.nl", "event_id": "u"},
             {"type": "unsubscribe", "address": "carl@example.nl", "event_id": "u"}]
    assert report(client, account, batch) == ["unknown_contact", "applied"]


# --- unknown and invalid ---------------------------------------------------------------------------


def test_unknown_contacts(client, account, other, engine):
    events = [{"type": "unsubscribe", "contact": other["Z1"]},
              {"type": "hard_bounce", "address": "zoe@example.nl"},  # only the other account has zoe
              {"type": "complaint", "address": "nobody@example.nl"},
              {"type": "soft_bounce", "contact": 987654},
              {"type": "unsubscribe", "contact": 0},
              {"type": "unsubscribe", "contact": -3},
              {"type": "unsubscribe", "contact": 2**63},
              {"type": "unsubscribe", "address": "not an address"}]
    assert report(client, account, events) == ["unknown_contact"] * len(events)
    assert statuses(engine, other) == {"Z1": "active"}
    assert recorded_events(engine, account) == recorded_events(engine, other) == []


INVALID = {
    "unknown type": {"type": "bounce", "contact": 1},
    "no type": {"contact": 1},
    "type a list": {"type": ["unsubscribe"], "contact": 1},
    "type an object": {"type": {"unsubscribe": 1}, "contact": 1},
    "both": {"type": "unsubscribe", "contact": 1, "address": "bob@example.nl"},
    "neither": {"type": "unsubscribe"},
    "contact not a number": {"type": "unsubscribe", "contact": "1"},
    "contact true": {"type": "unsubscribe", "contact": True},
    "contact a float": {"type": "unsubscribe", "contact": 1.5},
    "address not a string": {"type": "unsubscribe", "address": ["bob@example.nl"]},
    "empty address": {"type": "unsubscribe", "address": "  "},
    "unparsable occurred_at": {"type": "unsubscribe", "address": "bob@example.nl",
                               "occurred_at": "yesterday"},
    "occurred_at a number": {"type": "unsubscribe", "address": "bob@example.nl", "occurred_at": 1700000000},
    "future occurred_at": {"type": "unsubscribe", "address": "bob@example.nl",
                           "occurred_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
    "other mailing": {"type": "unsubscribe", "address": "bob@example.nl", "mailing": 99999},
    "mailing not a number": {"type": "unsubscribe", "address": "bob@example.nl", "mailing": "1"},
    "long event_id": {"type": "unsubscribe", "address": "bob@example.nl", "event_id": "x" * 201},
    "long detail": {"type": "unsubscribe", "address": "bob@example.nl", "detail": "x" * 1001},
    "long address": {"type": "unsubscribe", "address": "b" * 320 + "@example.nl"},
    "NUL in address": {"type": "unsubscribe", "address": "bob@example.nl\x00"},
    "NUL in detail": {"type": "unsubscribe", "address": "bob@example.nl", "detail": "a\x00b"},
    "NUL in event_id": {"type": "unsubscribe", "address": "bob@example.nl", "event_id": "\x00"},
    "event_id a number": {"type": "unsubscribe", "address": "bob@example.nl", "event_id": 7},
    "unknown key": {"type": "unsubscribe", "address": "bob@example.nl", "reason": "x"},
    "not an object": ["unsubscribe", "bob@example.nl"],
    "null": None,
}


def test_each_invalid_event_is_answered_on_its_own(client, account, engine):
    good = {"type": "unsubscribe", "contact": account["C1"]}
    events = [good, *INVALID.values(), good]
    response = post_events(client, account, events)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["status"] for r in results] == ["applied", *["invalid"] * len(INVALID), "applied"]
    for name, result in zip(INVALID, results[1:-1], strict=True):
        assert result["message"], name
    assert statuses(engine, account) == {**ACTIVE, "C1": "unsubscribed"}  # bob untouched
    assert "type must be one of unsubscribe, complaint, hard_bounce, soft_bounce" in results[1]["message"]
    assert "future" in results[1 + list(INVALID).index("future occurred_at")]["message"]


def test_occurred_at_allows_a_little_clock_skew_and_names_its_zone(client, account, engine):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    events = [{"type": "soft_bounce", "address": "bob@example.nl", "occurred_at": soon},
              {"type": "soft_bounce", "address": "bob@example.nl",
               "occurred_at": "2026-01-01T10:00:00+02:00"},
              {"type": "soft_bounce", "address": "bob@example.nl", "occurred_at": "2026-01-01T08:00:00Z"}]
    assert report(client, account, events) == ["applied"] * 3
    with engine.connect() as conn:
        moments = conn.execute(text("SELECT occurred_at FROM contact_events ORDER BY id")).scalars().all()
    as_utc = [datetime.fromisoformat(str(m)) for m in moments[1:]]  # SQLite answers text
    assert [m.astimezone(UTC) if m.tzinfo else m.replace(tzinfo=UTC) for m in as_utc] == [
        datetime(2026, 1, 1, 8, tzinfo=UTC)] * 2


@pytest.mark.parametrize("body", [[], "events", {"events": {}}, {"events": None}, {"event": []},
                                  {"events": [], "extra": 1}])
def test_a_body_that_is_not_a_list_of_events_is_refused(client, account, body):
    response = client.post("/api/v1/events", json=body, headers=account.auth("send"))
    assert response.status_code == 400, response.json
    assert set(response.json["error"]) == {"code", "message"}


def test_an_empty_batch_is_answered_empty(client, account):
    assert report(client, account, []) == []


def test_a_batch_over_10000_events_is_413_with_the_envelope(client, account, engine):
    events = [{"type": "unsubscribe", "contact": account["A1"]}] * 10_001
    response = post_events(client, account, events)
    assert response.status_code == 413, response.json
    assert response.json["error"]["code"] == "limit_exceeded"
    assert "SAFEGUARD_MAX_BATCH" in response.json["error"]["message"]
    assert statuses(engine, account) == ACTIVE


def test_events_need_a_send_key(client, account):
    for scope in ("manage", "admin"):
        response = post_events(client, account, [{"type": "unsubscribe", "contact": account["A1"]}], scope)
        assert response.status_code == 403, (scope, response.json)
    assert client.post("/api/v1/events", json={"events": []}).status_code == 401


# --- the ledger note -------------------------------------------------------------------------------


def test_an_event_naming_its_mailing_notes_the_ledger_entry(client, account, engine):
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    other_mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE, "again")],
                                   name="second")
    verdicts(client, account, mailing, [account["A1"], account["B1"], account["C1"]])
    verdicts(client, account, other_mailing, [account["B1"]])
    events = [{"type": "hard_bounce", "contact": account["B1"], "mailing": mailing,
               "occurred_at": "2026-11-30T12:00:00Z"},
              {"type": "soft_bounce", "address": "carl@example.nl", "mailing": mailing},
              {"type": "complaint", "contact": account["A1"], "mailing": other_mailing}]  # no entry there
    assert report(client, account, events) == ["applied"] * 3
    entries = client.get(f"/api/v1/mailings/{mailing}/ledger", headers=account.auth()).json["entries"]
    noted = {e["contact"]: (e["event"], e["event_at"] is not None) for e in entries}
    assert noted == {account["A1"]: (None, False), account["B1"]: ("hard_bounce", True),
                     account["C1"]: ("soft_bounce", True)}
    assert [e["event_at"] for e in entries if e["contact"] == account["B1"]][0].startswith("2026-11-30T12:00")
    entries = client.get(f"/api/v1/mailings/{other_mailing}/ledger", headers=account.auth()).json["entries"]
    assert [(e["contact"], e["event"]) for e in entries] == [(account["B1"], None)]
    csv_text = client.get(f"/api/v1/mailings/{mailing}/ledger?format=csv", headers=account.auth()).text
    assert "hard_bounce" in csv_text and "soft_bounce" in csv_text


def test_the_openapi_document_shows_the_events_body_and_its_enums(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/events"]["post"]
    text_of = str(operation) + str(document.get("components", {}))
    for word in ("unsubscribe", "complaint", "hard_bounce", "soft_bounce", "applied", "duplicate",
                 "unknown_contact", "invalid"):
        assert word in text_of, word
