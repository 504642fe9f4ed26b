"""Plain regression tests for the bugs the API fuzzer (tests/integration/test_fuzz_api.py) found."""

from __future__ import annotations

import pytest

HUGE = "9" * 5000


def test_a_multipart_part_without_a_name_is_400_not_500(client, make_tenant):
    """A part with no `name` made the NUL check fail on None (a 500) before any view ran."""
    tenant = make_tenant()
    body = b'--b\r\nContent-Disposition: form-data; filename="a.csv"\r\n\r\nemail\r\n--b--\r\n'
    for path in ("/api/v1/imports/inspect", "/api/v1/imports"):
        response = client.post(path, data=body, headers={
            **tenant.auth(), "Content-Type": "multipart/form-data; boundary=b"})
        assert response.status_code == 400, (path, response.json)
        assert response.json["error"]["code"] == "missing_file"


@pytest.mark.parametrize("contact_id", ["2147483648", "9999999999", HUGE])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_id_beyond_any_stored_is_404_for_every_method(client, make_tenant, method, contact_id):
    """DELETE /contacts/<a number past 2**31-1> was a 405 (the GET rule's path matched first)."""
    tenant = make_tenant()
    response = client.open(f"/api/v1/contacts/{contact_id}", method=method, json={},
                           headers=tenant.auth())
    assert response.status_code == 404, response.json
    assert response.json["error"]["code"] == "not_found"


def test_an_id_at_the_limit_still_names_a_row(client, make_tenant, post_import):
    tenant = make_tenant()
    assert post_import(tenant, [["email"], ["ann@example.com"]], {"has_header": True}).status_code == 200
    contact = client.get("/api/v1/contacts", headers=tenant.auth()).json["contacts"][0]
    assert client.get(f"/api/v1/contacts/{contact['id']}", headers=tenant.auth()).json == contact
    assert client.delete("/api/v1/contacts/2147483647", headers=tenant.auth()).status_code == 404


def test_an_unreadable_wait_flag_is_400_and_starts_nothing(client, make_tenant, engine):
    """?wait=maybe silently did not wait; it is refused like every other yes/no parameter."""
    import io

    from sqlalchemy import text

    tenant = make_tenant()
    response = client.post("/api/v1/imports?wait=maybe", headers=tenant.auth(),
                           data={"file": (io.BytesIO(b"email\nann@example.com\n"), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400, response.json
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM imports")).scalar_one() == 0


def _stale_read(engine, session) -> None:  # type: ignore[no-untyped-def]
    """Leave `session` in a read transaction that another connection then writes past, as a request
    that read its key while a background import committed rows."""
    from sqlalchemy import text

    session.execute(text("SELECT count(*) FROM accounts")).scalar_one()
    with engine.begin() as other:
        other.execute(text("UPDATE accounts SET name = name"))


def test_writes_after_a_stale_read_wait_their_turn(engine, make_tenant):
    """With 80 examples the fuzzer got 503 `busy` from POST /keys and POST /links on SQLite while
    its background imports ran: a request's session that had read (its key) could not then write,
    once another connection had written since. Each write now ends its reads first."""
    from sqlmodel import Session

    from service.db import insert_unique
    from service.domain.api_keys import issue_key, revoke_key
    from service.models import Account, Link

    tenant = make_tenant()
    with Session(engine, expire_on_commit=False) as session:
        account = session.get(Account, tenant.id)
        assert account is not None
        _stale_read(engine, session)
        link = insert_unique(session, Link(account_id=account.id, name="crm", label="CRM"), "taken")
        assert link.id is not None
        _stale_read(engine, session)
        created = issue_key(session, account=account, scope="send", name="mailer")
        _stale_read(engine, session)
        assert revoke_key(session, account.id, created.id).revoked_at is not None
