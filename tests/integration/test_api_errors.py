"""Errors: one JSON envelope with a fitting status, never a stack trace; bad imports change nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from service import background, create_app

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
       b"\x00\x00IEND\xaeB`\x82")
ROWS = b"email,first_name,nr\r\nsanne@example.nl,Sanne,K1\r\npiet@example.nl,Piet,K2\r\n"
GOOD_SETTINGS = {"mapping": {"email": "email", "first_name": "first_name"}}


def assert_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """Assert the error envelope, with nothing else in it and no trace of Python; return the error."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json", response.data
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    raw = response.get_data(as_text=True)
    for trace in ("Traceback", 'File "', ".py", "<html", "sqlalchemy", "psycopg", "sqlite3"):
        assert trace not in raw, raw
    return body["error"]


# --- the envelope for HTTP errors -----------------------------------------------------------------


def test_unknown_api_path_is_a_json_404(client, make_tenant):
    tenant = make_tenant()
    assert_error(client.get("/api/v1/no-such-thing", headers=tenant.auth()), 404, "not_found")
    assert_error(client.get("/api/v2/account", headers=tenant.auth()), 404, "not_found")
    assert_error(client.get("/api/v1/contacts/not-a-number", headers=tenant.auth()), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [
    ("delete", "/api/v1/account"),
    ("put", "/api/v1/links"),
    ("get", "/api/v1/links"),
    ("put", "/api/v1/contacts/1"),
    ("get", "/api/v1/imports/inspect"),  # GET /imports lists them (issue 13)
])
def test_wrong_method_is_a_json_405(client, make_tenant, method, path):
    tenant = make_tenant()
    response = getattr(client, method)(path, headers=tenant.auth())
    assert_error(response, 405, "method_not_allowed")
    assert response.headers.get("Allow")


def test_web_pages_keep_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_front_page_answers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Mailing safeguard" in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_json_500_without_details(database_url, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path)})

    def explode():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals /etc/passwd")

    app.add_url_rule("/api/v1/explode", "explode", explode)
    try:
        response = app.test_client().get("/api/v1/explode")
        error = assert_error(response, 500, "internal_error")
        assert "secret" not in response.get_data(as_text=True)
        assert "RuntimeError" not in error["message"]
    finally:
        background.shutdown(app)
        app.extensions["safeguard.engine"].dispose()


# --- JSON bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/links", "/api/v1/fields"])
@pytest.mark.parametrize(("body", "content_type"), [
    pytest.param("{", "application/json", id="truncated"),
    pytest.param("{'name': 'x'}", "application/json", id="single quotes"),
    pytest.param("", "application/json", id="empty"),
    pytest.param('["name", "crm"]', "application/json", id="array"),
    pytest.param('"crm"', "application/json", id="string"),
    pytest.param("null", "application/json", id="null"),
    pytest.param("name=crm&label=x", "application/x-www-form-urlencoded", id="form"),
    pytest.param(b"\xff\xfe\x00{", "application/json", id="bytes"),
])
def test_invalid_json_bodies_are_400(client, make_tenant, path, body, content_type):
    tenant = make_tenant()
    response = client.post(path, data=body, content_type=content_type, headers=tenant.auth())
    assert_error(response, 400, "invalid_json")
    account = client.get("/api/v1/account", headers=tenant.auth()).json
    assert account["links"] == [] and all(f["builtin"] for f in account["fields"])


@pytest.mark.parametrize(("body", "mentions"), [
    ({"label": "Customer number"}, "name"),
    ({"name": "crm"}, "label"),
    ({"name": 7, "label": "Customer number"}, "name"),
    ({"name": "", "label": "Customer number"}, "name"),
    ({"name": "CRM system", "label": "Customer number"}, "name"),
    ({"name": "1crm", "label": "Customer number"}, "name"),
    ({"name": "crm", "label": ""}, "label"),
    ({"name": "crm", "label": ["Customer number"]}, "label"),
    ({"name": "crm", "label": "Customer number", "id_pattern": 5}, "id_pattern"),
    ({"name": "x" * 51, "label": "Customer number"}, "name"),
])
def test_invalid_link_bodies_are_400_naming_the_field(client, make_tenant, body, mentions):
    tenant = make_tenant()
    error = assert_error(client.post("/api/v1/links", json=body, headers=tenant.auth()), 400,
                         "invalid_request")
    assert mentions in error["message"]
    assert client.get("/api/v1/account", headers=tenant.auth()).json["links"] == []


@pytest.mark.parametrize(("body", "mentions"), [
    ({"type": "text"}, "name"),
    ({"name": "city"}, "type"),
    ({"name": "city", "type": "blob"}, "type"),
    ({"name": "city", "type": 1}, "type"),
    ({"name": "2city", "type": "text"}, "name"),
    ({"name": "first name", "type": "text"}, "name"),
    ({"name": "x" * 64, "type": "text"}, "name"),
])
def test_invalid_field_bodies_are_400_naming_the_field(client, make_tenant, body, mentions):
    tenant = make_tenant()
    error = assert_error(client.post("/api/v1/fields", json=body, headers=tenant.auth()), 400,
                         "invalid_request")
    assert mentions in error["message"]
    assert all(f["builtin"] for f in client.get("/api/v1/account", headers=tenant.auth()).json["fields"])


def test_link_and_field_are_created(client, make_tenant):
    tenant = make_tenant()
    link = client.post("/api/v1/links", json={"name": "crm", "label": "Customer number",
                                              "id_pattern": "K[0-9]+"}, headers=tenant.auth())
    assert link.status_code == 201, link.json
    assert {k: link.json[k] for k in ("name", "label", "id_pattern")} == {
        "name": "crm", "label": "Customer number", "id_pattern": "K[0-9]+"}
    field = client.post("/api/v1/fields", json={"name": "birth_date", "type": "date"}, headers=tenant.auth())
    assert field.status_code == 201, field.json
    assert (field.json["name"], field.json["type"]) == ("birth_date", "date")
    account = client.get("/api/v1/account", headers=tenant.auth()).json
    assert [x["id"] for x in account["links"]] == [link.json["id"]]
    assert field.json["id"] in [f["id"] for f in account["fields"]]


def test_duplicate_link_name_is_409(client, make_tenant):
    tenant = make_tenant()
    other = make_tenant("other")
    body = {"name": "crm", "label": "Customer number"}
    assert client.post("/api/v1/links", json=body, headers=tenant.auth()).status_code == 201
    assert_error(client.post("/api/v1/links", json={**body, "label": "Other"}, headers=tenant.auth()),
                 409, "conflict")
    # The name is taken per account only.
    assert client.post("/api/v1/links", json=body, headers=other.auth()).status_code == 201
    links = client.get("/api/v1/account", headers=tenant.auth()).json["links"]
    assert [(x["name"], x["label"]) for x in links] == [("crm", "Customer number")]


@pytest.mark.parametrize("name", ["city", "email", "status", "created_at", "updated_at"])
def test_duplicate_or_builtin_field_name_is_409(client, make_tenant, name):
    tenant = make_tenant(fields={"city": "text"})
    assert_error(client.post("/api/v1/fields", json={"name": name, "type": "number"}, headers=tenant.auth()),
                 409, "conflict")
    fields = client.get("/api/v1/account", headers=tenant.auth()).json["fields"]
    assert [f["type"] for f in fields if f["name"] == name] in (["text"], ["date"])


@pytest.mark.parametrize("pattern", ["(", "[a-z", "K[0-9]{2,1}", "*K",
                                     r"(K)\1", "(?=K)K[0-9]+", "(?<!X)K"])  # RE2: no backtracking
def test_invalid_id_pattern_is_400(client, make_tenant, pattern):
    tenant = make_tenant()
    body = {"name": "crm", "label": "Nr", "id_pattern": pattern}
    response = client.post("/api/v1/links", json=body, headers=tenant.auth())
    assert "id_pattern" in assert_error(response, 400, "invalid_request")["message"]
    assert client.get("/api/v1/account", headers=tenant.auth()).json["links"] == []


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=-1", "limit=1001", "cursor=-5",
                                   "cursor=x", "external_id.crm=1&external_id.shop=2",
                                   "external_id.nope=1"])
def test_bad_contact_queries_are_400(client, make_tenant, query):
    tenant = make_tenant(links={"crm": None, "shop": None})
    assert_error(client.get(f"/api/v1/contacts?{query}", headers=tenant.auth()), 400, "invalid_request")


# --- the upload limit -----------------------------------------------------------------------------


@pytest.fixture
def small_upload_app(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app that takes uploads of at most 2 KB."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path / "uploads"),
                      "MAX_CONTENT_LENGTH": 2048})
    yield app
    background.shutdown(app)
    app.extensions["safeguard.engine"].dispose()


@pytest.mark.parametrize("path", ["/api/v1/imports?wait=true", "/api/v1/imports", "/api/v1/imports/inspect"])
def test_an_upload_over_the_limit_is_a_json_413(small_upload_app, make_tenant, path, tmp_path):
    tenant = make_tenant()
    client = small_upload_app.test_client()
    content = b"email\r\n" + b"".join(b"person%d@example.nl\r\n" % i for i in range(200))
    assert len(content) > 2048
    response = client.post(path, headers=tenant.auth(), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), "big.csv"),
                                 "settings": json.dumps({"mapping": {"email": "email"}})})
    error = assert_error(response, 413, "payload_too_large")
    assert "2 KB" in error["message"]
    with small_upload_app.extensions["safeguard.engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM imports")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 0
    assert list((tmp_path / "uploads").iterdir()) == []
    # A file under the limit goes through.
    small = client.post("/api/v1/imports?wait=true", headers=tenant.auth(),
                        content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"email\r\nsanne@example.nl\r\n"), "small.csv"),
                              "settings": json.dumps({"mapping": {"email": "email"}})})
    assert small.status_code == 200 and small.json["report"]["created"] == 1, small.json


# --- bad imports: a clear 400 and nothing changed -------------------------------------------------


def _nothing_changed(engine, account_id: int, upload_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        for table in ("contacts", "imports", "external_ids"):
            count = conn.execute(text(f"SELECT count(*) FROM {table} WHERE account_id = :a"),
                                 {"a": account_id}).scalar_one()
            assert count == 0, table
        assert conn.execute(text("SELECT count(*) FROM import_rejections")).scalar_one() == 0
        fields = conn.execute(text("SELECT name FROM fields WHERE account_id = :a ORDER BY name"),
                              {"a": account_id}).scalars().all()
        assert fields == ["first_name"]
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


BAD_SETTINGS = [
    pytest.param("{mapping: email}", "JSON", id="not JSON"),
    pytest.param("[1, 2]", "object", id="a list"),
    pytest.param('"email"', "object", id="a string"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "dedup": "email"}), "dedup", id="unknown key"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "mode": "sometimes"}), "mode", id="unknown mode"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "dry_run": "yes"}), "dry_run", id="dry_run not boolean"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "empty_clears": 1}), "empty_clears", id="empty_clears 1"),
    pytest.param(json.dumps({"mapping": ["email"]}), "mapping", id="mapping a list"),
    pytest.param(json.dumps({"mapping": {"email": 3}}), "mapping", id="mapping to a number"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "match": "email"}), "match", id="match a string"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "match": {"by": "phone"}}), "match.by", id="match by phone"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "match": {"by": "external_id"}}), "link",
                 id="match without link"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "match": {"by": "external_id", "link": "crm"}}), "column",
                 id="match without column"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "delimiter": ";;"}), "delimiter", id="long delimiter"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "create_fields": {"city": "blob"}}), "city",
                 id="create field of unknown type"),
    pytest.param(json.dumps({**GOOD_SETTINGS, "create_fields": {"first_name": "text"}}), "first_name",
                 id="create existing field"),
    pytest.param(json.dumps({"mapping": {"email": "email", "stad": "city"}}), "stad",
                 id="mapping from unknown column"),
    pytest.param(json.dumps({"mapping": {"email": "email", "first_name": "voornaam"}}), "voornaam",
                 id="mapping to unknown field"),
    pytest.param(json.dumps({"mapping": {"email": "email", "first_name": "created_at"}}), "created_at",
                 id="mapping to created_at"),
    pytest.param(json.dumps({"mapping": {"first_name": "first_name"}}), "email", id="no email mapped"),
    pytest.param(json.dumps({**GOOD_SETTINGS,
                             "match": {"by": "external_id", "link": "shop", "column": "nr"}}),
                 "shop", id="unknown link"),
    pytest.param(json.dumps({**GOOD_SETTINGS,
                             "match": {"by": "external_id", "link": "crm", "column": "KlantNr"}}),
                 "KlantNr", id="unknown id column"),
]


@pytest.mark.parametrize("wait", [True, False])
@pytest.mark.parametrize(("settings", "mentions"), BAD_SETTINGS)
def test_bad_settings_are_400_and_change_nothing(make_tenant, post_import, engine, app, settings,
                                                 mentions, wait):
    tenant = make_tenant(links={"crm": None}, fields={"first_name": "text"})
    response = post_import(tenant, ROWS, settings, wait=wait)
    error = assert_error(response, 400, "invalid_settings")
    assert mentions in error["message"]
    _nothing_changed(engine, tenant.id, Path(app.config["UPLOAD_DIR"]))


@pytest.mark.parametrize(("content", "filename", "mentions"), [
    pytest.param(b"", "contacts.csv", "empty", id="empty"),
    pytest.param(b"\r\n\r\n  \r\n", "contacts.csv", "empty", id="blank lines"),
    pytest.param(PNG, "contacts.csv", "binary", id="png"),
    pytest.param(b"PK\x03\x04" + bytes(200), "contacts.xlsx", "CSV", id="xlsx"),
    pytest.param(b"\x1f\x8b\x08\x00garbage", "contacts.csv.gz", "gzip", id="broken gzip"),
])
@pytest.mark.parametrize("path", ["/api/v1/imports?wait=true", "/api/v1/imports", "/api/v1/imports/inspect"])
def test_unreadable_files_are_400_and_change_nothing(client, make_tenant, engine, app, content, filename,
                                                     mentions, path):
    tenant = make_tenant(fields={"first_name": "text"})
    response = client.post(path, headers=tenant.auth(), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), filename),
                                 "settings": json.dumps(GOOD_SETTINGS)})
    error = assert_error(response, 400, "unreadable_file")
    assert mentions in error["message"]
    _nothing_changed(engine, tenant.id, Path(app.config["UPLOAD_DIR"]))


@pytest.mark.parametrize("path", ["/api/v1/imports?wait=true", "/api/v1/imports/inspect"])
@pytest.mark.parametrize("data", [
    pytest.param(lambda: {"settings": json.dumps(GOOD_SETTINGS)}, id="no file part"),
    pytest.param(lambda: {"upload": (io.BytesIO(ROWS), "c.csv"), "settings": json.dumps(GOOD_SETTINGS)},
                 id="file under another name"),
    pytest.param(lambda: {"file": (io.BytesIO(ROWS), ""), "settings": json.dumps(GOOD_SETTINGS)},
                 id="no file name"),
    pytest.param(lambda: {"file": "email\nsanne@example.nl", "settings": json.dumps(GOOD_SETTINGS)},
                 id="file as a text field"),
])
def test_a_missing_file_part_is_400(client, make_tenant, engine, app, path, data):
    tenant = make_tenant(fields={"first_name": "text"})
    response = client.post(path, headers=tenant.auth(), content_type="multipart/form-data", data=data())
    error = assert_error(response, 400, "missing_file")
    assert "file" in error["message"]
    _nothing_changed(engine, tenant.id, Path(app.config["UPLOAD_DIR"]))


def test_a_json_body_instead_of_multipart_is_400(client, make_tenant, engine, app):
    tenant = make_tenant(fields={"first_name": "text"})
    response = client.post("/api/v1/imports?wait=true", headers=tenant.auth(),
                           json={"file": "email\nsanne@example.nl", "settings": GOOD_SETTINGS})
    assert_error(response, 400, "missing_file")
    _nothing_changed(engine, tenant.id, Path(app.config["UPLOAD_DIR"]))


def test_a_good_import_after_bad_ones_still_works(make_tenant, post_import, contacts_of):
    """The checks above refuse what is wrong, not everything: the same file with good settings imports."""
    tenant = make_tenant(links={"crm": None}, fields={"first_name": "text"})
    response = post_import(tenant, ROWS, GOOD_SETTINGS)
    assert response.status_code == 200 and response.json["report"]["created"] == 2, response.json
    assert [c["email"] for c in contacts_of(tenant.id)] == ["sanne@example.nl", "piet@example.nl"]
