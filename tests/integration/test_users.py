"""Users of the web pages: `safeguard users create`, the demo user, sign-in, sessions and CSRF."""

from __future__ import annotations

import json

import pytest
from page_helpers import csrf_token
from sqlalchemy import text
from sqlmodel import Session

from service.domain.users import create_user
from service.models import Account


def _users(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT u.email, a.name, u.password_hash FROM users u JOIN accounts a ON a.id = u.account_id "
            "ORDER BY u.id")).all())




def _sign_in(client, email: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/sign-in"))
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


# --- the command line -----------------------------------------------------------------------------


def test_users_create_with_a_password(cli, engine, make_tenant):
    make_tenant("acme")
    result = cli("users", "create", "acme", " Anna@Acme.example ", "--password", "a long secret")
    assert result.exit_code == 0, result.output
    [(email, account, password_hash)] = _users(engine)
    assert (email, account) == ("anna@acme.example", "acme")
    assert "a long secret" not in password_hash
    assert password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_users_create_asks_for_the_password_twice(cli, engine, make_tenant):
    make_tenant("acme")
    result = cli("users", "create", "acme", "anna@acme.example", input="a long secret\na long secret\n")
    assert result.exit_code == 0, result.output
    assert "a long secret" not in result.output  # hidden input
    assert len(_users(engine)) == 1
    result = cli("users", "create", "acme", "piet@acme.example", input="a long secret\nanother one\n"
                 "a long secret\na long secret\n")
    assert result.exit_code == 0 and "do not match" in result.output.lower()


@pytest.mark.parametrize("args, message", [
    (("nobody", "anna@acme.example", "--password", "a long secret"), "no account named 'nobody'"),
    (("acme", "anna@acme.example", "--password", "short"), "at least 8 characters"),
    (("acme", "not-an-address", "--password", "a long secret"), "is not an e-mail address"),
])
def test_users_create_refuses(cli, make_tenant, args, message):
    make_tenant("acme")
    result = cli("users", "create", *args)
    assert result.exit_code != 0 and message in result.output


def test_an_address_signs_in_to_one_account_only(cli, make_tenant):
    make_tenant("acme")
    make_tenant("other")
    assert cli("users", "create", "acme", "anna@acme.example", "--password", "a long secret").exit_code == 0
    result = cli("users", "create", "other", "ANNA@acme.example", "--password", "a long secret")
    assert result.exit_code != 0 and "exists already" in result.output


def test_demo_prints_a_user_and_password_that_sign_in(cli, app, client):
    result = cli("demo")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["user"] == "demo@example.com" and len(printed["password"]) >= 12
    assert printed["manage_key"].startswith("sg_")
    response = _sign_in(client, printed["user"], printed["password"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert b"Recent imports" in client.get("/").data
    again = cli("demo")
    assert again.exit_code == 0 and again.stdout == "" and "demo@example.com" in again.stderr


# --- sessions and CSRF (the browser tests cover the pages themselves) -------------------------------


def _make_user(engine, account_id: int) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        create_user(session, account=session.get(Account, account_id), email="anna@acme.example",
                    password="a long secret")


def test_sign_in_and_out(client, make_tenant, engine):
    _make_user(engine, make_tenant("acme").id)
    assert client.get("/imports/new").status_code == 302
    assert b"Recent imports" not in client.get("/").data  # the sign-in form instead
    assert _sign_in(client, "anna@acme.example", "wrong password").status_code == 401
    assert _sign_in(client, "nobody@acme.example", "a long secret").status_code == 401
    response = _sign_in(client, "anna@acme.example", "a long secret")
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200 and b"Recent imports" in home.data
    # Signing out needs the token too.
    assert client.post("/sign-out").status_code == 400
    assert client.get("/imports/new").status_code == 200
    assert client.post("/sign-out", data={"csrf_token": csrf_token(home)}).status_code == 302
    assert client.get("/imports/new").status_code == 302


def test_sign_in_never_redirects_to_another_site(app, make_tenant, engine):
    _make_user(engine, make_tenant("acme").id)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example/x", "javascript:alert(1)"):
        client = app.test_client()
        token = csrf_token(client.get("/sign-in"))
        response = client.post("/sign-in", data={"email": "anna@acme.example", "password": "a long secret",
                                                 "next": target, "csrf_token": token})
        assert response.headers["Location"] == "/", target


def test_the_api_needs_no_csrf_token(client, make_tenant):
    tenant = make_tenant("acme")
    response = client.post("/api/v1/fields", json={"name": "city", "type": "text"}, headers=tenant.auth())
    assert response.status_code == 201, response.json
    # A POST to an unknown API path is still the API's JSON 404, not a CSRF refusal.
    response = client.post("/api/v1/nothing-here", json={}, headers=tenant.auth())
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_every_process_signs_sessions_with_the_same_key(app, database_url, tmp_path, make_tenant, engine):
    """gunicorn runs several workers: a session made by one must be valid in another."""
    from service import background, create_app

    _make_user(engine, make_tenant("acme").id)
    other = create_app({"TESTING": True, "DATABASE_URL": database_url,
                        "UPLOAD_DIR": str(tmp_path / "uploads")})
    try:
        # Neither process has a key of its own (SECRET_KEY is unset): the first to sign a cookie
        # makes the one kept in the database, and the other reads it.
        assert app.secret_key is None and other.secret_key is None
        first, second = app.test_client(), other.test_client()
        assert _sign_in(first, "anna@acme.example", "a long secret").status_code == 302
        assert second.get("/imports/new").status_code == 302
        second.set_cookie("session", first.get_cookie("session").value)
        assert second.get("/imports/new").status_code == 200
    finally:
        background.shutdown(other)
        other.extensions["safeguard.engine"].dispose()
