"""Mailings changed, copied and deleted over the API: allowed until a check first clears anyone, then
409 mailing_started; a copy has its own empty ledger. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from functools import partial

import pytest
from mailing_helpers import (
    EVERYONE,
    IN_UTRECHT,
    Account,
    create_mailing,
    create_segment,
    make_account,
    post_states,
    preview,
    send,
    states,
    verdicts,
)
from sqlalchemy import text
from sqlmodel import Session

from service.domain import mailings, send_check
from service.models import Account as AccountRow
from service.models import Mailing

HOUSEHOLD = [
    ["K1", "anna@example.nl", "Anna", "Utrecht", "", ""],
    ["K2", "anna@example.nl", "Bert", "Utrecht", "", ""],  # K1's inbox
    ["K3", "carl@example.nl", "Carl", "Delft", "", ""],
]


@pytest.fixture
def household(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    return make_account(make_tenant, import_rows, engine, HOUSEHOLD, name="household")


def _patch(client, account: Account, mailing_id: int, body: dict):  # type: ignore[no-untyped-def]
    return client.patch(f"/api/v1/mailings/{mailing_id}", json=body, headers=account.auth())


def _mailing(client, account: Account, mailing_id: int) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/mailings/{mailing_id}", headers=account.auth())
    assert response.status_code == 200, response.json
    return response.json


def test_a_change_before_the_first_check_takes_the_parts_given(client, household: Account) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing = create_mailing(client, household, [everyone], name="spring")
    assert preview(client, household, mailing)["recipients"] == 2  # anna's inbox once, carl

    response = _patch(client, household, mailing, {"exclude": [utrecht], "name": "spring sale"})
    assert response.status_code == 200, response.json
    assert response.json["name"] == "spring sale" and response.json["exclude"] == [utrecht]
    assert response.json["include"] == [everyone]  # not given: kept
    assert preview(client, household, mailing)["recipients"] == 1  # carl alone

    response = _patch(client, household, mailing, {"allow_shared_address": True, "exclude": []})
    assert response.status_code == 200, response.json
    assert preview(client, household, mailing)["recipients"] == 3
    assert _mailing(client, household, mailing)["allow_shared_address"] is True


def test_a_change_is_checked_as_a_new_mailing_is(client, household: Account, make_tenant) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    mailing = create_mailing(client, household, [everyone], name="spring")
    create_mailing(client, household, [everyone], name="autumn")
    other = make_tenant("other", "external_id")
    foreign = client.post("/api/v1/segments", json={"name": "x", "rules": EVERYONE},
                          headers=other.auth()).json["id"]
    refusals = [
        ({"include": [foreign]}, 400, "invalid_request"),
        ({"include": []}, 400, "invalid_request"),
        ({"include": None}, 400, "invalid_request"),
        ({"personalized_by": ["first_name"]}, 400, "invalid_request"),  # without the opt-in
        ({"representative": {"rule": "prefer_non_empty", "field": "nope"}}, 400, "invalid_request"),
        ({"name": "autumn"}, 409, "conflict"),
        ({"colour": "red"}, 400, "invalid_request"),
    ]
    for body, status, code in refusals:
        response = _patch(client, household, mailing, body)
        assert response.status_code == status, (body, response.json)
        assert response.json["error"]["code"] == code, (body, response.json)
    assert _mailing(client, household, mailing)["name"] == "spring"
    assert _mailing(client, household, mailing)["include"] == [everyone]


def test_once_a_check_cleared_anyone_the_mailing_is_fixed(client, household: Account, engine) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    mailing = create_mailing(client, household, [everyone], name="spring")
    assert verdicts(client, household, mailing, [household["K3"]]) == [send(household["K3"])]
    # Released: still started (the mailing system was told it may send).
    assert post_states(client, household, mailing, "release", [household["K3"]]) == 1

    before = _mailing(client, household, mailing)
    for response in (_patch(client, household, mailing, {"name": "renamed"}),
                     _patch(client, household, mailing, {"allow_shared_address": True}),
                     client.delete(f"/api/v1/mailings/{mailing}", headers=household.auth())):
        assert response.status_code == 409, response.json
        assert response.json["error"]["code"] == "mailing_started"
    assert _mailing(client, household, mailing) == before
    assert states(engine, mailing) == [(household["K3"], "released")]


def test_a_check_that_cleared_nobody_does_not_fix_it(client, household: Account, engine) -> None:
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing = create_mailing(client, household, [utrecht], name="spring")
    headers = {**household.auth("send"), "Idempotency-Key": "batch-1"}
    response = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [household["K3"]]},
                           headers=headers)
    assert response.json["results"][0]["reason"] == "not_in_mailing"
    assert _patch(client, household, mailing, {"name": "renamed"}).status_code == 200
    assert client.delete(f"/api/v1/mailings/{mailing}", headers=household.auth()).status_code == 204
    with engine.connect() as conn:  # its idempotency record went with it
        assert conn.execute(text("SELECT count(*) FROM check_requests WHERE mailing_id = :m"),
                            {"m": mailing}).scalar_one() == 0


def test_a_check_after_a_change_follows_the_change(client, household: Account) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing = create_mailing(client, household, [everyone], name="spring")
    assert _patch(client, household, mailing, {"include": [utrecht]}).status_code == 200
    results = verdicts(client, household, mailing, [household["K3"]])
    assert results[0]["reason"] == "not_in_mailing"


def test_delete_before_the_first_check(client, household: Account) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    mailing = create_mailing(client, household, [everyone], name="spring")
    response = client.delete(f"/api/v1/mailings/{mailing}", headers=household.auth())
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/v1/mailings/{mailing}", headers=household.auth()).status_code == 404
    assert client.delete(f"/api/v1/mailings/{mailing}", headers=household.auth()).status_code == 404
    names = [m["name"] for m in client.get("/api/v1/mailings", headers=household.auth()).json["mailings"]]
    assert names == []
    assert create_mailing(client, household, [everyone], name="spring")  # the name is free again


def test_a_copy_has_the_settings_and_a_ledger_of_its_own(client, household: Account, engine) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    mailing = create_mailing(client, household, [everyone], name="spring", allow_shared_address=True,
                             personalized_by=["first_name"], representative="oldest")
    assert verdicts(client, household, mailing, [household["K1"]]) == [send(household["K1"])]

    response = client.post(f"/api/v1/mailings/{mailing}/copy", json={}, headers=household.auth())
    assert response.status_code == 201, response.json
    copy = response.json
    original = _mailing(client, household, mailing)
    assert copy["id"] != mailing and copy["name"] == "Copy of spring"
    assert {k: copy[k] for k in ("include", "exclude", "allow_shared_address", "personalized_by",
                                 "representative")} == \
        {k: original[k] for k in ("include", "exclude", "allow_shared_address", "personalized_by",
                                  "representative")}
    assert states(engine, copy["id"]) == [] and preview(client, household, copy["id"])["claimed"] == 0
    # A new ledger: K1 is cleared again for the copy, and the copy can still change.
    assert verdicts(client, household, copy["id"], [household["K1"]]) == [send(household["K1"])]
    assert states(engine, mailing) == [(household["K1"], "claimed")]

    named = client.post(f"/api/v1/mailings/{mailing}/copy", json={"name": "autumn"}, headers=household.auth())
    assert named.status_code == 201 and named.json["name"] == "autumn"
    assert _patch(client, household, named.json["id"], {"allow_shared_address": False,
                                                         "personalized_by": []}).status_code == 200
    again = client.post(f"/api/v1/mailings/{mailing}/copy", json={}, headers=household.auth())
    assert again.status_code == 201 and again.json["name"] == "Copy of spring (2)"  # the first free name
    taken = client.post(f"/api/v1/mailings/{mailing}/copy", json={"name": "autumn"}, headers=household.auth())
    assert taken.status_code == 409 and taken.json["error"]["code"] == "conflict"


def test_another_accounts_mailing_is_not_found(client, household: Account, make_tenant) -> None:
    everyone = create_segment(client, household, EVERYONE, "everyone")
    mailing = create_mailing(client, household, [everyone], name="spring")
    intruder = make_tenant("intruder", "external_id")
    for response in (client.patch(f"/api/v1/mailings/{mailing}", json={"name": "x"}, headers=intruder.auth()),
                     client.delete(f"/api/v1/mailings/{mailing}", headers=intruder.auth()),
                     client.post(f"/api/v1/mailings/{mailing}/copy", json={}, headers=intruder.auth())):
        assert response.status_code == 404, response.json
    assert client.patch(f"/api/v1/mailings/{mailing}", json={"name": "x"},
                        headers=household.auth("send")).status_code == 403
    assert _mailing(client, household, mailing)["name"] == "spring"


def test_a_check_made_before_a_change_claims_nothing(app, client, household: Account, engine) -> None:
    """The check's guard: an audience made from the settings before a change (a check that read the
    mailing, then waited for its transaction) claims nothing, and the caller makes it again."""
    everyone = create_segment(client, household, EVERYONE, "everyone")
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing_id = create_mailing(client, household, [everyone], name="spring")
    with Session(engine) as session:
        account = session.get(AccountRow, household.id)
        mailing = session.get(Mailing, mailing_id)
        assert account is not None and mailing is not None
        stale = mailings.mailing_audience(session, account, mailing)
        guard = partial(mailings.settings_still, mailing_id=mailing_id,
                        expected=mailings.settings_of(mailing))
    assert _patch(client, household, mailing_id, {"include": [utrecht]}).status_code == 200
    with pytest.raises(send_check.MailingChanged):
        send_check.run_check(engine, stale, mailing_id, contact_ids=[household["K3"]], guard=guard)
    assert states(engine, mailing_id) == []
    assert client.delete(f"/api/v1/mailings/{mailing_id}", headers=household.auth()).status_code == 204
    with pytest.raises(send_check.MailingChanged):  # deleted meanwhile: nothing claimed either
        send_check.run_check(engine, stale, mailing_id, contact_ids=[household["K3"]], guard=guard)
    assert states(engine, mailing_id) == []


def test_a_change_racing_checks_never_both_win(app, client, household: Account, engine) -> None:
    """Checks of Carl (in Delft) race a change that leaves Delft out: either the change came first
    (and nobody in Delft is cleared) or a check did (and the change is refused)."""
    everyone = create_segment(client, household, EVERYONE, "everyone")
    delft = create_segment(client, household, {"field": "city", "op": "eq", "value": "Delft"}, "delft")
    outcomes = set()
    for round_ in range(4):
        mailing = create_mailing(client, household, [everyone], name=f"race {round_}")
        answers: dict[str, int] = {}

        def run(name: str, call, answers: dict[str, int] = answers) -> None:  # type: ignore[no-untyped-def]
            answers[name] = call(app.test_client()).status_code

        calls = {
            "change": lambda c: c.patch(f"/api/v1/mailings/{mailing}", json={"exclude": [delft]},  # noqa: B023
                                        headers=household.auth()),
            "check": lambda c: c.post(f"/api/v1/mailings/{mailing}/check",  # noqa: B023
                                      json={"contacts": [household["K3"]]}, headers=household.auth("send")),
        }
        threads = [threading.Thread(target=run, args=item) for item in calls.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        cleared = states(engine, mailing)
        assert answers["check"] == 200, answers
        if answers["change"] == 200:
            assert cleared == [], (answers, cleared)
        else:
            assert answers["change"] == 409 and cleared == [(household["K3"], "claimed")], (answers, cleared)
        outcomes.add(answers["change"])
    assert outcomes <= {200, 409}
