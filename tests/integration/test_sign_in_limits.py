"""Failed sign-ins and uploads are limited and counted in the database: two instances count alike."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from page_helpers import PASSWORD, csrf_token
from sqlalchemy import text
from sqlmodel import Session, select

from service import background, create_app
from service.domain.contacts import as_utc
from service.domain.users import create_user
from service.models import Account, RateEvent

LIMITS = {"SIGN_IN_FAILURES": 3, "SIGN_IN_CLIENT_FAILURES": 5, "SIGN_IN_WINDOW_SECONDS": 600,
          "UPLOADS_PER_WINDOW": 2, "UPLOAD_WINDOW_SECONDS": 600}


@pytest.fixture
def instances(database_url, tmp_path):  # type: ignore[no-untyped-def]
    """Two instances on one database, with small limits."""
    apps = [create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path / f"up{n}"),
                        **LIMITS}) for n in range(2)]
    yield apps
    for app in apps:
        background.shutdown(app)
        app.extensions["safeguard.engine"].dispose()


@pytest.fixture
def anna(instances, make_tenant) -> int:  # type: ignore[no-untyped-def]
    account_id = make_tenant("acme").id
    with Session(instances[0].extensions["safeguard.engine"]) as session:
        create_user(session, account=session.get(Account, account_id), email="anna@acme.example",
                    password=PASSWORD)
    return account_id


def _sign_in(app, email: str, password: str, client_address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = client_address
    token = csrf_token(client.get("/sign-in"))
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def _age_events(app, seconds: int) -> None:
    """Move every counted event `seconds` into the past (as if that time had gone by)."""
    with Session(app.extensions["safeguard.engine"]) as session:
        for event in session.exec(select(RateEvent)):
            event.at = as_utc(event.at) - timedelta(seconds=seconds)
            session.add(event)
        session.commit()


def test_failures_on_two_instances_count_together_and_then_the_right_password_is_refused(instances, anna):
    first, second = instances
    assert _sign_in(first, "anna@acme.example", "wrong one").status_code == 401
    assert _sign_in(second, "ANNA@acme.example", "wrong two").status_code == 401
    assert _sign_in(first, "anna@acme.example", "wrong three").status_code == 401
    for app in instances:
        refused = _sign_in(app, "anna@acme.example", PASSWORD, client_address="10.0.0.9")
        assert refused.status_code == 429
        assert 590 <= int(refused.headers["Retry-After"]) <= 600
        assert "Too many failed sign-ins. Wait 10 minutes" in refused.get_data(as_text=True)
    with instances[0].extensions["safeguard.engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM user_sessions")).scalar() == 0


def test_a_success_does_not_count(instances, anna):
    first, second = instances
    for _ in range(5):
        assert _sign_in(first, "anna@acme.example", PASSWORD).status_code == 302
    assert _sign_in(second, "anna@acme.example", "wrong").status_code == 401
    assert _sign_in(second, "anna@acme.example", "wrong").status_code == 401
    assert _sign_in(first, "anna@acme.example", PASSWORD).status_code == 302


def test_the_window_ends(instances, anna):
    first, second = instances
    for _ in range(3):
        _sign_in(first, "anna@acme.example", "wrong")
    assert _sign_in(second, "anna@acme.example", PASSWORD).status_code == 429
    _age_events(first, 300)  # halfway: still refused, for the half left
    refused = _sign_in(second, "anna@acme.example", PASSWORD)
    assert refused.status_code == 429 and 290 <= int(refused.headers["Retry-After"]) <= 300
    _age_events(first, 301)
    assert _sign_in(second, "anna@acme.example", PASSWORD).status_code == 302


def test_one_client_trying_many_addresses_is_limited_and_others_are_not(instances, anna):
    first, second = instances
    for n in range(5):
        assert _sign_in(instances[n % 2], f"guess{n}@acme.example", PASSWORD).status_code == 401
    refused = _sign_in(first, "anna@acme.example", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert _sign_in(second, "anna@acme.example", PASSWORD, client_address="10.0.0.2").status_code == 302


def test_uploads_are_limited_per_key_across_instances(instances, make_tenant):
    tenant = make_tenant("acme")
    first, second = (app.test_client() for app in instances)
    content = b"email\nanna@example.com\n"

    def inspect(client, key: str = "manage"):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/imports/inspect", data={"file": (io.BytesIO(content), "c.csv")},
                           headers=tenant.auth(key), content_type="multipart/form-data")

    assert inspect(first).status_code == 200
    assert inspect(second).status_code == 200
    refused = inspect(first)
    assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0 and "too many uploads" in refused.json["error"]["message"]
    imported = second.post("/api/v1/imports", data={"file": (io.BytesIO(content), "c.csv"),
                                                    "settings": '{"match": {"by": "email"}}'},
                           headers=tenant.auth(), content_type="multipart/form-data")
    assert imported.status_code == 429
    assert inspect(first, "admin").status_code == 200  # another key counts on its own


def test_behind_a_trusted_proxy_clients_count_by_their_forwarded_address(instances, anna):
    first, second = instances
    for app in instances:
        app.config["SIGN_IN_CLIENT_FAILURES"] = 2
    behind_proxy = create_app({"TESTING": True, "DATABASE_URL": first.config["DATABASE_URL"],
                               "TRUSTED_PROXIES": 1, **LIMITS, "SIGN_IN_CLIENT_FAILURES": 2})

    def from_client(app, address: str, email: str):  # type: ignore[no-untyped-def]
        client = app.test_client()
        client.environ_base.update({"REMOTE_ADDR": "10.9.9.9", "HTTP_X_FORWARDED_FOR": address})
        token = csrf_token(client.get("/sign-in"))
        return client.post("/sign-in", data={"email": email, "password": "wrong", "csrf_token": token})

    try:
        # Behind the proxy: one client's failures do not lock out another behind the same proxy.
        for n in range(2):
            assert from_client(behind_proxy, "203.0.113.1", f"guess{n}@acme.example").status_code == 401
        assert from_client(behind_proxy, "203.0.113.1", "guess9@acme.example").status_code == 429
        assert from_client(behind_proxy, "203.0.113.2", "guess9@acme.example").status_code == 401
        # Without a trusted proxy the header is the client's own word: ignored, the address counts.
        for n in range(2):
            assert from_client(first, f"198.51.100.{n}", f"other{n}@acme.example").status_code == 401
        assert from_client(second, "198.51.100.7", "other9@acme.example").status_code == 429
    finally:
        background.shutdown(behind_proxy)
        behind_proxy.extensions["safeguard.engine"].dispose()
