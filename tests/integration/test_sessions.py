"""Sessions live in the database: sign-out, a new password and a removed user end them on every instance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from page_helpers import PASSWORD, csrf_token, signed_in
from sqlalchemy import text
from sqlmodel import Session, select

from service import background, create_app
from service.domain.user_sessions import LIFETIME
from service.models import UserSession, utcnow


@pytest.fixture
def other_app(database_url, tmp_path):  # type: ignore[no-untyped-def]
    """A second instance on the same database (as on another host)."""
    other = create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path / "up2")})
    yield other
    background.shutdown(other)
    other.extensions["safeguard.engine"].dispose()


def _replay(app, cookie: str):  # type: ignore[no-untyped-def]
    """A new browser on `app` that sends a copied session cookie."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def test_a_copied_cookie_stops_working_at_sign_out_on_every_instance(app, other_app, engine, make_tenant):
    anna = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    copied = anna.get_cookie("session").value
    assert _replay(other_app, copied).get("/imports/new").status_code == 200  # valid anywhere
    home = anna.get("/")
    assert anna.post("/sign-out", data={"csrf_token": csrf_token(home)}).status_code == 302
    for instance in (app, other_app):
        response = _replay(instance, copied).get("/imports/new")
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_signing_out_ends_only_that_session(app, engine, make_tenant):
    first = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    second = signed_in_again(app)
    first.post("/sign-out", data={"csrf_token": csrf_token(first.get("/"))})
    assert first.get("/imports/new").status_code == 302
    assert second.get("/imports/new").status_code == 200


def test_the_cookie_holds_no_user_id_and_the_database_no_token(app, engine, make_tenant):
    anna = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    with engine.connect() as conn:
        [(token_hash,)] = conn.execute(text("SELECT token_hash FROM user_sessions")).all()
    cookie = anna.get_cookie("session").value
    assert token_hash not in cookie and len(token_hash) == 64
    # A cookie signed with the right key but naming a user (the old form) lets nobody in.
    with app.test_request_context():
        forged = app.session_interface.get_signing_serializer(app).dumps({"user_id": 1})
    assert _replay(app, forged).get("/imports/new").status_code == 302


def test_a_new_password_or_removing_the_user_ends_every_session(app, other_app, engine, make_tenant, cli):
    tenant = make_tenant("acme")
    anna = signed_in(app, engine, tenant.id, "anna@acme.example")
    piet = signed_in(app, engine, tenant.id, "piet@acme.example")
    result = cli("users", "set-password", "Anna@acme.example", "--password", "another long secret")
    assert result.exit_code == 0, result.output
    assert anna.get("/imports/new").status_code == 302
    assert piet.get("/imports/new").status_code == 200  # another user's session stays
    renewed = app.test_client()
    response = renewed.post("/sign-in", data={"email": "anna@acme.example", "password": "another long secret",
                                              "csrf_token": csrf_token(renewed.get("/sign-in"))})
    assert response.status_code == 302
    copied = piet.get_cookie("session").value
    result = cli("users", "remove", "piet@acme.example")
    assert result.exit_code == 0, result.output
    assert _replay(other_app, copied).get("/imports/new").status_code == 302
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE email LIKE 'piet@%'")).scalar() == 0
    assert renewed.get("/imports/new").status_code == 200


def test_set_password_and_remove_refuse_unknown_users_and_short_passwords(cli, make_tenant):
    make_tenant("acme")
    result = cli("users", "remove", "nobody@acme.example")
    assert result.exit_code != 0 and "user nobody@acme.example not found" in result.output
    result = cli("users", "set-password", "nobody@acme.example", "--password", "a long secret")
    assert result.exit_code != 0 and "not found" in result.output
    result = cli("users", "set-password", "nobody@acme.example", "--password", "short")
    assert result.exit_code != 0 and "at least 8 characters" in result.output


def test_a_session_ends_thirty_days_after_sign_in(app, engine, make_tenant):
    anna = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    with Session(engine) as session:
        [row] = session.exec(select(UserSession)).all()
        row.created_at = utcnow() - LIFETIME + timedelta(minutes=1)
        session.add(row)
        session.commit()
    assert anna.get("/imports/new").status_code == 200
    with Session(engine) as session:
        [row] = session.exec(select(UserSession)).all()
        row.created_at = utcnow() - LIFETIME - timedelta(minutes=1)
        session.add(row)
        session.commit()
    assert anna.get("/imports/new").status_code == 302
    again = signed_in_again(app)
    assert again.get("/imports/new").status_code == 200
    with engine.connect() as conn:  # the old session's row went at the new sign-in
        assert conn.execute(text("SELECT count(*) FROM user_sessions")).scalar() == 1


def signed_in_again(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.post("/sign-in", data={"email": "anna@acme.example", "password": PASSWORD,
                                  "csrf_token": csrf_token(client.get("/sign-in"))})
    return client
