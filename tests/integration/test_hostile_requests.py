"""Hostile requests (issue 11): each answered with a clear 4xx, never a 500, and nothing changed.

Deep JSON, huge numbers, NUL characters, loose types and overlong file names, on every JSON body,
the import settings and the uploads, on both databases.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from sqlalchemy import text

from tests.integration.page_helpers import csrf_token, signed_in
from tests.integration.test_api_errors import ROWS, assert_error

GOOD_SETTINGS = {"mapping": {"email": "email"}}

DEEP = 100_000
HUGE_NUMBER = "7" * 5_000

# Every JSON body of the API: (path, a good body). The mailing is made by the `mailing` fixture.
JSON_BODIES = [
    ("/api/v1/links", {"name": "crm", "label": "CRM number"}, "manage"),
    ("/api/v1/fields", {"name": "city", "type": "text"}, "manage"),
    ("/api/v1/segments", {"name": "everyone", "rules": {"all": []}}, "manage"),
    ("/api/v1/mailings", {"name": "news", "include": [1]}, "manage"),
    ("/api/v1/mailings/1/check", {"contacts": [1]}, "send"),
    ("/api/v1/mailings/1/release", {"contacts": [1]}, "send"),
    ("/api/v1/mailings/1/confirm", {"contacts": [1]}, "send"),
    ("/api/v1/dedup/apply", {"to": "email"}, "admin"),
    ("/api/v1/dedup/undo", {"change_id": 1}, "admin"),
]
BODY_IDS = [path.removeprefix("/api/v1/") for path, _, _ in JSON_BODIES]


def deep_json(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def _counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    tables = ("links", "fields", "segments", "mailings", "send_ledger", "contacts", "imports",
              "dedup_changes")
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


# --- finding 6: the 500s ----------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [
    pytest.param("null", id="null"),
    pytest.param(deep_json(DEEP), id="nested 100000 deep"),
    pytest.param('{"mapping": {"email": "email"}, "x": ' + HUGE_NUMBER + "}", id="5000-digit number"),
    pytest.param('{"mapping": {"email": "email"}, "x": 1e999}', id="infinite number"),
    pytest.param('{"mapping": {"email": "email"}, "x": NaN}', id="NaN"),
])
def test_hostile_settings_are_400(make_tenant, post_import, engine, settings):
    tenant = make_tenant()
    before = _counts(engine)
    assert_error(post_import(tenant, ROWS, settings), 400, "invalid_settings")
    assert _counts(engine) == before
    assert post_import(tenant, ROWS, json.dumps(GOOD_SETTINGS)).status_code == 200


@pytest.fixture
def mailing(client, make_tenant):  # type: ignore[no-untyped-def]
    """A tenant with one contact, segment 1 and mailing 1."""
    tenant = make_tenant()
    client.post("/api/v1/imports?wait=true", headers=tenant.auth(), content_type="multipart/form-data",
                data={"file": (io.BytesIO(ROWS), "c.csv"), "settings": json.dumps(GOOD_SETTINGS)})
    assert client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                       headers=tenant.auth()).status_code == 201
    assert client.post("/api/v1/mailings", json={"name": "m", "include": [1]},
                       headers=tenant.auth()).status_code == 201
    return tenant


@pytest.mark.parametrize("depth", [1_000, DEEP])
@pytest.mark.parametrize(("path", "good", "scope"), JSON_BODIES, ids=BODY_IDS)
def test_deep_json_bodies_are_400(client, mailing, engine, path, good, scope, depth):
    before = _counts(engine)
    body = json.dumps(good)[:-1] + ', "deep": ' + deep_json(depth) + "}"
    response = client.post(path, data=body, content_type="application/json", headers=mailing.auth(scope))
    error = assert_error(response, 400, "invalid_json")
    assert "deep" in error["message"]
    assert _counts(engine) == before


@pytest.mark.parametrize(("path", "good", "scope"), JSON_BODIES, ids=BODY_IDS)
def test_huge_numbers_in_json_bodies_are_400(client, mailing, engine, path, good, scope):
    before = _counts(engine)
    body = json.dumps(good)[:-1] + ', "n": ' + HUGE_NUMBER + "}"
    response = client.post(path, data=body, content_type="application/json", headers=mailing.auth(scope))
    assert_error(response, 400, "invalid_json")
    assert _counts(engine) == before


def test_deep_rules_in_the_builder_preview_are_400(app, engine, mailing):
    user = signed_in(app, engine, mailing.id, "ann@example.nl")
    token = csrf_token(user.get("/segments/new"))
    response = user.post("/segments/preview", data='{"rules": ' + deep_json(DEEP) + "}",
                         content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert "deep" in response.get_json()["error"]["message"]


LONG_NAME = "x" * 300 + ".csv"


@pytest.mark.parametrize("path", ["/api/v1/imports/inspect", "/api/v1/imports?wait=true"])
def test_an_upload_with_a_300_character_name_is_read(client, make_tenant, path):
    tenant = make_tenant()
    data = {"file": (io.BytesIO(ROWS), LONG_NAME), "settings": json.dumps(GOOD_SETTINGS)}
    response = client.post(path, data=data, headers=tenant.auth(), content_type="multipart/form-data")
    assert response.status_code == 200, response.data


def test_an_upload_with_a_10000_character_name_is_read(client, make_tenant):
    tenant = make_tenant()
    data = {"file": (io.BytesIO(ROWS), "é" * 10_000 + ".csv"), "settings": json.dumps(GOOD_SETTINGS)}
    response = client.post("/api/v1/imports?wait=true", data=data, headers=tenant.auth(),
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.data
    assert len(response.json["filename"]) <= 255


def test_the_wizard_takes_a_file_with_a_300_character_name(app, engine, make_tenant):
    tenant = make_tenant()
    user = signed_in(app, engine, tenant.id, "ann@example.nl")
    token = csrf_token(user.get("/imports/new"))
    response = user.post("/imports/new", data={"csrf_token": token, "file": (io.BytesIO(ROWS), LONG_NAME)},
                         content_type="multipart/form-data")
    assert response.status_code == 302, response.data


@pytest.mark.parametrize("change_id", [2**31, 2**63, 10**30])
def test_undo_of_a_change_beyond_any_id_is_404(client, make_tenant, change_id):
    tenant = make_tenant()
    response = client.post("/api/v1/dedup/undo", json={"change_id": change_id}, headers=tenant.auth("admin"))
    assert_error(response, 404, "not_found")


# --- finding 7: a NUL character in any string -------------------------------------------------------

NUL = "a\x00b"
NUL_BODIES = [
    ("/api/v1/links", {"name": "crm", "label": NUL}, "manage"),
    ("/api/v1/links", {"name": "crm", "label": "CRM", "id_pattern": NUL}, "manage"),
    ("/api/v1/fields", {"name": NUL, "type": "text"}, "manage"),
    ("/api/v1/segments", {"name": NUL, "rules": {"all": []}}, "manage"),
    ("/api/v1/segments", {"name": "s", "rules": {"field": "email", "op": "eq", "value": NUL}}, "manage"),
    ("/api/v1/segments", {"name": "s", "rules": {"all": [], NUL: 1}}, "manage"),
    ("/api/v1/mailings", {"name": NUL, "include": [1]}, "manage"),
    ("/api/v1/mailings/1/check", {"addresses": ["ann@example.nl", NUL]}, "send"),
    ("/api/v1/dedup/apply", {"to": "external_id", "link": NUL}, "admin"),
]


@pytest.mark.parametrize(("path", "body", "scope"), NUL_BODIES,
                         ids=[f"{p.removeprefix('/api/v1/')}-{i}" for i, (p, _, _) in enumerate(NUL_BODIES)])
def test_a_nul_in_a_json_body_is_400(client, mailing, engine, path, body, scope):
    before = _counts(engine)
    response = client.post(path, json=body, headers=mailing.auth(scope))
    error = assert_error(response, 400)
    assert "NUL" in error["message"]
    assert _counts(engine) == before


@pytest.mark.parametrize("query", [
    {"address": "ann\x00@example.nl"},
    {"external_id.crm": "K\x001"},
    {"external_id.cr\x00m": "K1"},
])
def test_a_nul_in_a_query_parameter_is_400(client, make_tenant, query):
    tenant = make_tenant(links={"crm": None})
    error = assert_error(client.get("/api/v1/contacts", query_string=query, headers=tenant.auth()), 400)
    assert "NUL" in error["message"]


def test_a_nul_in_the_import_settings_is_400(make_tenant, post_import, engine):
    tenant = make_tenant()
    before = _counts(engine)
    settings = json.dumps({"mapping": {"email": "email"}, "date_format": NUL})
    assert_error(post_import(tenant, ROWS, settings), 400, "invalid_settings")
    assert _counts(engine) == before


@pytest.mark.parametrize("path", ["/api/v1/imports/inspect", "/api/v1/imports?wait=true"])
def test_a_nul_in_an_upload_name_is_400(client, make_tenant, engine, path):
    tenant = make_tenant()
    before = _counts(engine)
    data = {"file": (io.BytesIO(ROWS), "con\x00tacts.csv"), "settings": json.dumps(GOOD_SETTINGS)}
    response = client.post(path, data=data, headers=tenant.auth(), content_type="multipart/form-data")
    assert "NUL" in assert_error(response, 400)["message"]
    assert _counts(engine) == before


def test_a_nul_in_a_page_form_is_400(app, engine, make_tenant):
    tenant = make_tenant()
    user = signed_in(app, engine, tenant.id, "ann@example.nl")
    token = csrf_token(user.get("/segments/new"))
    response = user.post("/segments/new", data={"csrf_token": token, "name": NUL, "rules": '{"all": []}'})
    assert response.status_code == 400
    assert _counts(engine)["segments"] == 0


# --- finding 12: loose types and unknown keys -------------------------------------------------------

LOOSE_BODIES = [
    ("/api/v1/mailings/1/check", {"contacts": [True]}, "send", "contacts"),
    ("/api/v1/mailings/1/check", {"contacts": [False]}, "send", "contacts"),
    ("/api/v1/mailings/1/check", {"contacts": ["1"]}, "send", "contacts"),
    ("/api/v1/mailings/1/check", {"contacts": [1.0]}, "send", "contacts"),
    ("/api/v1/mailings/1/check", {"addresses": [7]}, "send", "addresses"),
    ("/api/v1/mailings/1/release", {"contacts": [True]}, "send", "contacts"),
    ("/api/v1/mailings/1/confirm", {"contacts": ["1"]}, "send", "contacts"),
    ("/api/v1/mailings", {"name": "m", "include": [True]}, "manage", "include"),
    ("/api/v1/mailings", {"name": "m", "include": [1], "allow_shared_address": 1}, "manage",
     "allow_shared_address"),
    ("/api/v1/dedup/undo", {"change_id": "1"}, "admin", "change_id"),
    ("/api/v1/dedup/undo", {"change_id": True}, "admin", "change_id"),
    ("/api/v1/mailings/1/check", {"contacts": [1], "contact": [2]}, "send", "contact"),
    ("/api/v1/segments", {"name": "s", "rules": {"all": []}, "rule": {}}, "manage", "rule"),
]


@pytest.mark.parametrize(("path", "body", "scope", "mentions"), LOOSE_BODIES,
                         ids=[f"{p.removeprefix('/api/v1/')}-{json.dumps(b)}" for p, b, _, _ in LOOSE_BODIES])
def test_loose_types_and_unknown_keys_in_bodies_are_400(client, mailing, engine, path, body, scope,
                                                        mentions):
    before = _counts(engine)
    error = assert_error(client.post(path, json=body, headers=mailing.auth(scope)), 400, "invalid_request")
    assert mentions in error["message"]
    assert _counts(engine) == before


@pytest.mark.parametrize("match", [
    {"by": "email", "column": "x"},
    {"by": "email", "link": "crm"},
    {"by": "external_id", "link": "crm", "column": "nr", "colour": "red"},
])
def test_unknown_keys_in_the_match_setting_are_400(make_tenant, post_import, engine, match):
    tenant = make_tenant(links={"crm": None})
    before = _counts(engine)
    rows = b"email,nr\r\nann@example.nl,K1\r\n"
    settings = json.dumps({"mapping": {"email": "email"}, "match": match})
    error = assert_error(post_import(tenant, rows, settings), 400, "invalid_settings")
    assert "match" in error["message"]
    assert _counts(engine) == before


# --- finding 5: an id_pattern that backtracks -------------------------------------------------------


def test_an_import_by_a_catastrophic_id_pattern_is_quick(make_tenant, post_import):
    tenant = make_tenant(dedup_mode="external_id", links={"crm": "^(a+)+$"})
    rows = [["nr", "email"], ["a" * 40 + "!", "ann@example.nl"], ["a" * 40, "bob@example.nl"]]
    settings = {"mapping": {"email": "email"}, "match": {"by": "external_id", "link": "crm", "column": "nr"}}
    started = time.perf_counter()
    job = post_import(tenant, rows, settings).json  # with Python's re: hours for the first row
    assert time.perf_counter() - started < 30
    assert job["report"]["created"] == 1 and job["report"]["rejected_by_reason"] == {"invalid_external_id": 1}


def test_a_stored_pattern_re2_refuses_makes_the_import_400(make_tenant, post_import, engine):
    tenant = make_tenant(dedup_mode="external_id", links={"crm": None})
    with engine.begin() as conn:  # as a link made before patterns were compiled with RE2
        conn.execute(text("UPDATE links SET id_pattern = '(?=K)K[0-9]+' WHERE account_id = :a"),
                     {"a": tenant.id})
    before = _counts(engine)
    settings = {"mapping": {"email": "email"}, "match": {"by": "external_id", "link": "crm", "column": "nr"}}
    response = post_import(tenant, [["nr", "email"], ["K1", "ann@example.nl"]], settings)
    assert "id_pattern" in assert_error(response, 400, "invalid_settings")["message"]
    assert _counts(engine) == before
