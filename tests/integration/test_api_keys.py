"""Keys over the API and the command line: named, listed with their last use, revoked at once
on every instance (also one that served the key a moment before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from service import background, create_app

KEYS = "/api/v1/keys"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _made(client, tenant, name: str = "mailing system", scope: str = "send") -> dict:  # type: ignore[no-untyped-def]
    response = client.post(KEYS, json={"name": name, "scope": scope}, headers=tenant.auth("admin"))
    assert response.status_code == 201, response.json
    return response.json


def _listed(client, tenant) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    response = client.get(KEYS, headers=tenant.auth("admin"))
    assert response.status_code == 200, response.json
    return {key["id"]: key for key in response.json["keys"]}


def test_a_made_key_is_shown_once_and_works(client, make_tenant):
    tenant = make_tenant()
    made = _made(client, tenant)
    assert set(made) == {"id", "name", "scope", "key", "created_at"}
    assert (made["name"], made["scope"]) == ("mailing system", "send")
    assert made["key"].startswith("sg_")
    assert client.get("/api/v1/account", headers=bearer(made["key"])).status_code == 200
    listed = _listed(client, tenant)[made["id"]]
    assert set(listed) == {"id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"}
    assert made["key"] not in str(_listed(client, tenant))
    assert made["key"].startswith(listed["prefix"]) and len(listed["prefix"]) < len(made["key"])
    assert listed["revoked_at"] is None and listed["created_at"] == made["created_at"]


def test_a_revoked_key_is_refused_at_its_next_use_on_another_instance(app, client, make_tenant, database_url,
                                                                      tmp_path):
    tenant = make_tenant()
    made = _made(client, tenant, scope="manage")
    other = create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path / "other")})
    try:
        other_client = other.test_client()
        assert other_client.get("/api/v1/contacts", headers=bearer(made["key"])).status_code == 200
        assert client.delete(f"{KEYS}/{made['id']}", headers=tenant.auth("admin")).status_code == 204
        refused = other_client.get("/api/v1/contacts", headers=bearer(made["key"]))
        assert refused.status_code == 401
        assert refused.json["error"] == {"code": "unauthorized", "message": "this API key was revoked"}
        assert client.get("/api/v1/account", headers=bearer(made["key"])).status_code == 401
    finally:
        background.shutdown(other)
        other.extensions["safeguard.engine"].dispose()
    revoked = _listed(client, tenant)[made["id"]]["revoked_at"]
    assert revoked is not None
    # Revoking again keeps the first moment; the other keys still work.
    assert client.delete(f"{KEYS}/{made['id']}", headers=tenant.auth("admin")).status_code == 204
    assert _listed(client, tenant)[made["id"]]["revoked_at"] == revoked
    assert client.get("/api/v1/account", headers=tenant.auth("manage")).status_code == 200


def _last_used(client, tenant, key_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    value = _listed(client, tenant)[key_id]["last_used_at"]
    return datetime.fromisoformat(value) if value else None


def test_last_use_is_noted_within_a_minute_and_not_on_every_request(client, engine, make_tenant):
    tenant = make_tenant()
    made = _made(client, tenant, scope="manage")
    assert _last_used(client, tenant, made["id"]) is None
    before = datetime.now(UTC)
    assert client.get("/api/v1/account", headers=bearer(made["key"])).status_code == 200
    first = _last_used(client, tenant, made["id"])
    assert first is not None and before - timedelta(seconds=1) <= first <= datetime.now(UTC)
    # Used again at once: no write (the first use is still within the minute).
    assert client.get("/api/v1/account", headers=bearer(made["key"])).status_code == 200
    assert _last_used(client, tenant, made["id"]) == first
    # A minute and more later, the next use is written.
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET last_used_at = :at WHERE id = :id"),
                     {"at": first - timedelta(seconds=61), "id": made["id"]})
    assert client.get("/api/v1/account", headers=bearer(made["key"])).status_code == 200
    later = _last_used(client, tenant, made["id"])
    assert later is not None and later >= before


def test_a_write_after_noting_the_use_succeeds(client, make_tenant):
    """The request that notes its key's use goes on to write (SQLite: a stale read would refuse it)."""
    tenant = make_tenant()
    made = _made(client, tenant, scope="manage")
    response = client.post("/api/v1/fields", json={"name": "city", "type": "text"},
                           headers=bearer(made["key"]))
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("scope", ["manage", "send"])
def test_only_admin_keys_handle_keys(client, make_tenant, scope):
    tenant = make_tenant()
    made = _made(client, tenant)
    body = {"name": "x", "scope": "send"}
    assert client.post(KEYS, json=body, headers=tenant.auth(scope)).status_code == 403
    assert client.get(KEYS, headers=tenant.auth(scope)).status_code == 403
    assert client.delete(f"{KEYS}/{made['id']}", headers=tenant.auth(scope)).status_code == 403
    assert client.get(KEYS).status_code == 401
    assert client.get("/api/v1/account", headers=bearer(made["key"])).status_code == 200


def test_another_accounts_keys_are_not_found(client, make_tenant):
    acme, other = make_tenant("acme"), make_tenant("other")
    theirs = _made(client, other)
    refused = client.delete(f"{KEYS}/{theirs['id']}", headers=acme.auth("admin"))
    assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"
    assert client.delete(f"{KEYS}/999999", headers=acme.auth("admin")).status_code == 404
    assert theirs["id"] not in _listed(client, acme)
    assert client.get("/api/v1/account", headers=bearer(theirs["key"])).status_code == 200


@pytest.mark.parametrize("body", [{}, {"name": "x"}, {"scope": "send"}, {"name": "", "scope": "send"},
                                  {"name": "x" * 101, "scope": "send"}, {"name": "x", "scope": "root"}])
def test_a_key_needs_a_name_and_a_known_scope(client, make_tenant, body):
    tenant = make_tenant()
    response = client.post(KEYS, json=body, headers=tenant.auth("admin"))
    assert response.status_code == 400, response.json
    assert len(_listed(client, tenant)) == 3  # the tenant's own three


# --- the command line -----------------------------------------------------------------------------


def test_keys_on_the_command_line(cli, client):
    assert cli("accounts", "create", "acme").exit_code == 0
    made = cli("keys", "create", "acme", "--scope", "admin", "--name", "support desk")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert made.stdout == key + "\n"
    assert client.get(KEYS, headers=bearer(key)).json["keys"][0]["name"] == "support desk"
    assert cli("keys", "create", "acme", "--scope", "send").exit_code == 0
    listed = cli("keys", "list", "acme")
    assert listed.exit_code == 0, listed.output
    header, *rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert header == ["id", "scope", "prefix", "name", "created_at", "last_used_at", "revoked_at"]
    assert [(row[1], row[3], row[6]) for row in rows] == [("admin", "support desk", "-"), ("send", "-", "-")]
    assert rows[0][5] != "-"  # used above
    assert key not in listed.stdout and key.startswith(rows[0][2])
    revoked = cli("keys", "revoke", "acme", rows[0][0])
    assert revoked.exit_code == 0, revoked.output
    assert client.get(KEYS, headers=bearer(key)).status_code == 401
    assert cli("keys", "list", "acme").stdout.splitlines()[1].split("\t")[6] != "-"


def test_keys_commands_refuse_unknown_accounts_and_ids(cli):
    assert cli("accounts", "create", "acme").exit_code == 0
    assert cli("accounts", "create", "other").exit_code == 0
    assert cli("keys", "create", "other", "--scope", "send").exit_code == 0
    theirs = cli("keys", "revoke", "acme", "1")
    assert theirs.exit_code == 1 and "key not found" in theirs.stderr
    assert cli("keys", "list", "nobody").exit_code == 1
    assert cli("keys", "revoke", "acme", "x").exit_code == 2
    assert cli("keys", "create", "acme", "--scope", "send", "--name", "").exit_code == 2
