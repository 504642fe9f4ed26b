"""Mailings changed, copied and deleted over the API: allowed until a check first clears anyone, then
409 mailing_started; a copy has its own empty ledger. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

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
