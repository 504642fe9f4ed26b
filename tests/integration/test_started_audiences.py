"""The audience cache of started mailings (service/domain/started_audiences.py), with two instances
of the service on one database: nothing is kept before a mailing starts (another instance may change
it), and a kept audience answers as a fresh one does. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from mailing_helpers import EVERYONE, IN_UTRECHT, Account, create_mailing, create_segment, make_account, send
from sqlmodel import Session

from service import background, create_app
from service.domain.started_audiences import started_audiences
from service.models import Account as AccountRow

HOUSEHOLD = [
    ["K1", "anna@example.nl", "Anna", "Utrecht", "", ""],
    ["K2", "anna@example.nl", "Bert", "Utrecht", "", ""],  # K1's inbox
    ["K3", "carl@example.nl", "Carl", "Delft", "", ""],
    ["K4", "dirk@example.nl", "Dirk", "Utrecht", "", ""],
]


@pytest.fixture
def household(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    return make_account(make_tenant, import_rows, engine, HOUSEHOLD, name="household")


@pytest.fixture
def other(database_url: str, app: Flask, tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """A second instance of the service on the same database (another host)."""
    second = create_app({"TESTING": True, "DATABASE_URL": database_url, "RUN_WORKER": False,
                         "UPLOAD_DIR": str(tmp_path / "uploads-2")})
    yield second
    background.shutdown(second)
    second.extensions["safeguard.engine"].dispose()


def _check(client, account: Account, mailing: int, keys: list[str]) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.post(f"/api/v1/mailings/{mailing}/check",
                           json={"contacts": [account[k] for k in keys]}, headers=account.auth("send"))
    assert response.status_code == 200, response.json
    return list(response.json["results"])


def test_a_mailing_not_started_is_not_kept_and_follows_another_instances_change(
        app: Flask, other: Flask, household: Account) -> None:  # type: ignore[no-untyped-def]
    client, second = app.test_client(), other.test_client()
    everyone = create_segment(client, household, EVERYONE, "everyone")
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing = create_mailing(client, household, [utrecht], name="spring")
    assert _check(client, household, mailing, ["K3"])[0]["reason"] == "not_in_mailing"
    assert mailing not in started_audiences(app)  # cleared nobody: not started, may still change

    response = second.patch(f"/api/v1/mailings/{mailing}", json={"include": [everyone]},
                            headers=household.auth())
    assert response.status_code == 200, response.json
    assert _check(client, household, mailing, ["K3"]) == [send(household["K3"], "carl@example.nl")]
    assert mailing in started_audiences(app)


def test_a_kept_audience_answers_as_a_fresh_one(app: Flask, other: Flask, household: Account) -> None:
    client, second = app.test_client(), other.test_client()
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing = create_mailing(client, household, [utrecht], name="spring")
    copy = client.post(f"/api/v1/mailings/{mailing}/copy", json={}, headers=household.auth()).json["id"]
    assert _check(client, household, mailing, ["K4"]) == [send(household["K4"], "dirk@example.nl")]
    assert _check(second, household, copy, ["K4"]) == [send(household["K4"], "dirk@example.nl")]
    assert mailing in started_audiences(app) and copy in started_audiences(other)
    # The rest of the batch: from the cache on this instance, from the copy's on the other,
    # after the second has been told about it fresh.
    started_audiences(other)._entries.clear()
    batch = ["K1", "K2", "K3", "K4"]
    kept, fresh = _check(client, household, mailing, batch), _check(second, household, copy, batch)
    assert kept == fresh
    assert [r.get("reason", "send") for r in kept] == ["send", "duplicate_address", "not_in_mailing",
                                                        "already_claimed"]
    # Fixed from here on, on every instance: the cache can never be stale.
    for instance in (client, second):
        response = instance.patch(f"/api/v1/mailings/{mailing}", json={"name": "renamed"},
                                  headers=household.auth())
        assert response.status_code == 409 and response.json["error"]["code"] == "mailing_started"
        response = instance.delete(f"/api/v1/segments/{utrecht}", headers=household.auth())
        assert response.status_code == 409, response.json
        response = instance.patch(f"/api/v1/segments/{utrecht}", json={"rules": EVERYONE},
                                  headers=household.auth())
        assert response.status_code == 409, response.json


def test_a_kept_audience_is_only_the_accounts_own(app: Flask, household: Account, make_tenant,
                                                  import_rows, engine) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    utrecht = create_segment(client, household, IN_UTRECHT, "utrecht")
    mailing = create_mailing(client, household, [utrecht], name="spring")
    assert _check(client, household, mailing, ["K4"])[0]["verdict"] == "send"
    assert mailing in started_audiences(app)
    stranger = make_account(make_tenant, import_rows, engine, HOUSEHOLD, name="stranger")
    response = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [stranger["K1"]]},
                           headers=stranger.auth("send"))
    assert response.status_code == 404, response.json


def test_a_kept_audience_takes_the_dedup_mode_and_now_of_each_check(
        app: Flask, household: Account, engine) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    mailing = create_mailing(client, household, [create_segment(client, household, EVERYONE, "all")])
    assert _check(client, household, mailing, ["K4"])[0]["verdict"] == "send"
    kept = started_audiences(app)._entries[mailing]
    with Session(engine) as session:
        account = session.get(AccountRow, household.id)
        assert account is not None
        account.dedup_mode = "email"  # as a dedup change leaves it
        audience = started_audiences(app).get(account, mailing)
    assert audience is not None and audience.dedup_mode == "email" != kept.dedup_mode
    assert audience.compiler.now > kept.compiler.now  # relative dates count from this check
    assert audience.compiler.catalog == kept.compiler.catalog and audience.include == kept.include
