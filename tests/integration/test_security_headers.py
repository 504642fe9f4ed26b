"""The session cookie's options and the security headers of pages and API (issue 11, 13 and 15)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from service import background, create_app
from service.domain.users import create_user
from service.models import Account
from tests.integration.page_helpers import PASSWORD, csrf_token, signed_in

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def assert_secured(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.headers)
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.parametrize("path", ["/sign-in", "/", "/no-such-page", "/static/app.js"])
def test_pages_carry_the_security_headers(client, path):
    assert_secured(client.get(path))


def test_pages_of_a_signed_in_user_carry_them(app, engine, make_tenant):
    user = signed_in(app, engine, make_tenant().id, "ann@example.nl")
    for path in ("/", "/imports/new", "/segments/new", "/mailings", "/dedup"):
        response = user.get(path)
        assert response.status_code == 200, path
        assert_secured(response)


@pytest.mark.parametrize("path", ["/api/v1/account", "/api/v1/no-such-thing", "/api/v1/openapi.json"])
def test_the_api_carries_them_too(client, make_tenant, path):
    assert_secured(client.get(path, headers=make_tenant().auth()))


def _sign_in_cookie(client) -> str:  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/sign-in"))
    response = client.post("/sign-in", data={"email": "ann@example.nl", "password": PASSWORD,
                                             "csrf_token": token})
    assert response.status_code == 302
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_the_session_cookie_is_lax_and_http_only_and_not_secure_on_plain_http(app, engine, make_tenant):
    signed_in(app, engine, make_tenant().id, "ann@example.nl")  # makes the user
    cookie = _sign_in_cookie(app.test_client())
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Secure" not in cookie  # http://127.0.0.1 must keep working


def test_the_session_cookie_is_secure_when_configured(database_url, tmp_path, monkeypatch, make_tenant):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path)})
    try:
        engine = app.extensions["safeguard.engine"]
        tenant = make_tenant()
        with Session(engine) as session:
            create_user(session, account=session.get(Account, tenant.id), email="ann@example.nl",
                        password=PASSWORD)
        cookie = _sign_in_cookie(app.test_client())
        assert "Secure" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    finally:
        background.shutdown(app)
        app.extensions["safeguard.engine"].dispose()
