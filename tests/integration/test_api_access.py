"""Who may do what: keys, scopes and tenant isolation, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

EMAIL_ROWS = [["email", "first_name"], ["sanne@example.nl", "Sanne"], ["not-an-address", "Piet"]]
EMAIL_SETTINGS = {"mapping": {"email": "email", "first_name": "first_name"}}

# A request per manage endpoint, each one valid for a manage key (so a 403 can only be the scope).
MANAGE_REQUESTS = [
    pytest.param("post", "/api/v1/links", {"json": {"name": "crm", "label": "Customer number"}},
                 201, id="POST links"),
    pytest.param("post", "/api/v1/fields", {"json": {"name": "city", "type": "text"}}, 201,
                 id="POST fields"),
    pytest.param("get", "/api/v1/contacts", {}, 200, id="GET contacts"),
    pytest.param("get", "/api/v1/contacts/export", {}, 200, id="GET contacts/export"),
    pytest.param("post", "/api/v1/imports/inspect",
                 {"data": lambda: {"file": (io.BytesIO(b"email\nsanne@example.nl\n"), "c.csv")},
                  "content_type": "multipart/form-data"}, 200, id="POST imports/inspect"),
    pytest.param("post", "/api/v1/imports?wait=true",
                 {"data": lambda: {"file": (io.BytesIO(b"email\nsanne@example.nl\n"), "c.csv"),
                                   "settings": '{"mapping": {"email": "email"}}'},
                  "content_type": "multipart/form-data"}, 200, id="POST imports"),
]


def _send(client, method: str, path: str, options: dict, headers: dict):  # type: ignore[no-untyped-def]
    options = {k: (v() if callable(v) else v) for k, v in options.items()}
    return getattr(client, method)(path, headers=headers, **options)


def _assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data
    assert response.is_json, response.data
    assert response.json["error"]["code"] == code, response.json
    assert response.json["error"]["message"]


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    pytest.param(None, id="no header"),
    pytest.param("Bearer sg_not-a-key", id="unknown key"),
    pytest.param("Bearer ", id="empty key"),
    pytest.param("Basic dXNlcjpwYXNz", id="basic auth"),
])
def test_missing_or_unknown_key_is_401(client, make_tenant, header):
    make_tenant()
    headers = {"Authorization": header} if header is not None else {}
    for path in ("/api/v1/account", "/api/v1/contacts", "/api/v1/imports/1", "/api/v1/contacts/1"):
        _assert_error(client.get(path, headers=headers), 401, "unauthorized")


def test_bearer_scheme_is_case_insensitive(client, make_tenant):
    tenant = make_tenant()
    response = client.get("/api/v1/account", headers={"Authorization": f"bearer {tenant.keys['manage']}"})
    assert response.status_code == 200, response.json
    assert response.json["id"] == tenant.id


@pytest.mark.parametrize("scope", ["manage", "send", "admin"])
def test_account_answers_any_scope(client, make_tenant, scope):
    tenant = make_tenant("acme", links={"crm": r"K[0-9]+"}, fields={"city": "text"})
    response = client.get("/api/v1/account", headers=tenant.auth(scope))
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["id"], body["name"], body["dedup_mode"]) == (tenant.id, "acme", "email")
    assert [(link["name"], link["label"], link["id_pattern"]) for link in body["links"]] == [
        ("crm", "CRM", r"K[0-9]+")]
    fields = {f["name"]: (f["type"], f["builtin"]) for f in body["fields"]}
    assert fields["city"] == ("text", False)
    assert {"email", "status", "created_at", "updated_at"} <= {n for n, (_, b) in fields.items() if b}


@pytest.mark.parametrize(("method", "path", "options", "status"), MANAGE_REQUESTS)
def test_send_key_is_forbidden_on_manage_endpoints(client, make_tenant, contacts_of, method, path,
                                                   options, status):
    tenant = make_tenant()
    response = _send(client, method, path, options, tenant.auth("send"))
    _assert_error(response, 403, "forbidden")
    assert contacts_of(tenant.id) == []
    account = client.get("/api/v1/account", headers=tenant.auth()).json
    assert account["links"] == [] and not [f for f in account["fields"] if not f["builtin"]]


@pytest.mark.parametrize(("method", "path", "options", "status"), MANAGE_REQUESTS)
@pytest.mark.parametrize("scope", ["manage", "admin"])
def test_manage_and_admin_keys_may_manage(client, make_tenant, method, path, options, status, scope):
    tenant = make_tenant()
    response = _send(client, method, path, options, tenant.auth(scope))
    assert response.status_code == status, response.data


@pytest.mark.parametrize("path", ["/api/v1/imports/{job}", "/api/v1/imports/{job}/rejected.csv",
                                  "/api/v1/contacts/{contact}"])
def test_send_key_may_not_read_imports_or_contacts(client, make_tenant, post_import, contacts_of, path):
    tenant = make_tenant(fields={"first_name": "text"})
    job = post_import(tenant, EMAIL_ROWS, EMAIL_SETTINGS).json
    contact = contacts_of(tenant.id)[0]["id"]
    url = path.format(job=job["id"], contact=contact)
    _assert_error(client.get(url, headers=tenant.auth("send")), 403, "forbidden")
    assert client.get(url, headers=tenant.auth("manage")).status_code == 200


def test_keys_are_stored_hashed(engine, make_tenant, database_url):
    tenant = make_tenant()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_keys WHERE account_id = :a"), {"a": tenant.id}).all()
    assert len(rows) == 3
    stored = " ".join(str(value) for row in rows for value in row)
    for key in tenant.keys.values():
        assert len(key) >= 40
        assert key not in stored
        assert key[10:] not in stored  # not even the part after the shown prefix
    if database_url.startswith("sqlite:"):
        # Nor anywhere in the database's files (table, indexes, write-ahead log).
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for key in tenant.keys.values():
            assert key.encode() not in raw


def test_keys_table_has_no_plain_key_column(engine):
    columns = {c["name"] for c in inspect(engine).get_columns("api_keys")}
    assert "key_hash" in columns
    assert not {"key", "token", "secret", "api_key"} & columns


# --- tenant isolation -----------------------------------------------------------------------------


@pytest.fixture
def two_tenants(make_tenant, post_import, contacts_of):  # type: ignore[no-untyped-def]
    """Two accounts that each imported the same rows (one rejected); their jobs and contacts."""
    ours = make_tenant("ours", fields={"first_name": "text"})
    theirs = make_tenant("theirs", fields={"first_name": "text"})
    jobs = {}
    for tenant in (ours, theirs):
        response = post_import(tenant, EMAIL_ROWS, EMAIL_SETTINGS)
        assert response.status_code == 200 and response.json["report"]["rejected"] == 1, response.json
        jobs[tenant.name] = response.json["id"]
    contacts = {t.name: contacts_of(t.id)[0]["id"] for t in (ours, theirs)}
    return ours, theirs, jobs, contacts


@pytest.mark.parametrize("path", ["/api/v1/imports/{job}", "/api/v1/imports/{job}/rejected.csv",
                                  "/api/v1/contacts/{contact}"])
@pytest.mark.parametrize("scope", ["manage", "admin"])
def test_another_accounts_things_are_404(client, two_tenants, path, scope):
    ours, theirs, jobs, contacts = two_tenants
    theirs_url = path.format(job=jobs["theirs"], contact=contacts["theirs"])
    ours_url = path.format(job=jobs["ours"], contact=contacts["ours"])
    assert client.get(ours_url, headers=ours.auth(scope)).status_code == 200
    response = client.get(theirs_url, headers=ours.auth(scope))
    _assert_error(response, 404, "not_found")
    assert "theirs" not in response.get_data(as_text=True)
    # Exactly as for an id that does not exist at all.
    missing = client.get(path.format(job=10**9, contact=10**9), headers=ours.auth(scope))
    assert (missing.status_code, missing.json) == (response.status_code, response.json)


def test_contact_lookup_by_address_stays_in_the_account(client, two_tenants):
    ours, theirs, _, contacts = two_tenants
    for tenant in (ours, theirs):
        found = client.get("/api/v1/contacts?address=sanne@example.nl", headers=tenant.auth()).json
        assert [c["id"] for c in found["contacts"]] == [contacts[tenant.name]]
        everyone = client.get("/api/v1/contacts", headers=tenant.auth()).json
        assert [c["id"] for c in everyone["contacts"]] == [contacts[tenant.name]]


def test_contact_lookup_by_external_id_stays_in_the_account(client, make_tenant, post_import):
    rows = [["nr", "email"], ["K1", "sanne@example.nl"]]
    settings = {"match": {"by": "external_id", "link": "crm", "column": "nr"}, "mapping": {"email": "email"}}
    ours = make_tenant("ours", "external_id", links={"crm": None})
    theirs = make_tenant("theirs", "external_id", links={"crm": None})
    loner = make_tenant("loner", "external_id", links={"shop": None})
    ids = {}
    for tenant in (ours, theirs):
        job = post_import(tenant, rows, settings).json
        assert job["report"]["created"] == 1, job
        found = client.get("/api/v1/contacts?external_id.crm=K1", headers=tenant.auth()).json["contacts"]
        assert len(found) == 1
        ids[tenant.name] = found[0]["id"]
    assert ids["ours"] != ids["theirs"]
    # An account without a link of that name learns nothing of the others' links.
    response = client.get("/api/v1/contacts?external_id.crm=K1", headers=loner.auth())
    _assert_error(response, 400, "invalid_request")
    assert client.get("/api/v1/contacts?external_id.shop=K1", headers=loner.auth()).json["contacts"] == []


def test_an_import_cannot_use_another_accounts_link(make_tenant, post_import, contacts_of):
    ours = make_tenant("ours", "external_id")
    make_tenant("theirs", "external_id", links={"crm": None})
    rows = [["nr", "email"], ["K1", "sanne@example.nl"]]
    settings = {"match": {"by": "external_id", "link": "crm", "column": "nr"}, "mapping": {"email": "email"}}
    response = post_import(ours, rows, settings)
    _assert_error(response, 400, "invalid_settings")
    assert contacts_of(ours.id) == []
