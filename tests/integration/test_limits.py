"""The limits that protect every instance (issue 12 item 4, issue 11 findings 2-4), with hostile input,
on SQLite and PostgreSQL: each answered with 413 `limit_exceeded` naming the limit and its setting (or a
failed job saying so), within seconds, the service still answering and nothing changed in the account.

The bombs are made here, a few MB each: a gzip stream may hold many members one after another, and
each member of 1 MiB of the same text compresses to a few KB, so 4 GiB of text takes 4,096 copies of
one member and no 4 GiB on disk or in memory.
"""

from __future__ import annotations

import contextvars
import io
import json
import resource
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from segments.field_indexes import FieldIndex
from service import background, create_app
from service.domain import field_indexes
from tests.integration.page_helpers import csrf_token, signed_in
from tests.integration.test_api_errors import assert_error

MiB = 1024 * 1024
GiB = 1024 * MiB
SETTINGS = json.dumps({"mapping": {"email": "email"}})
TABLES = ("contacts", "imports", "segments", "mailings", "send_ledger", "contact_events")
QUICK = 20  # seconds: a limit stops the read early, so even a 4 GiB bomb ends well within this


def gzip_member(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip member, header and trailer
    return packer.compress(data) + packer.flush()


def bomb(path: Path, head: bytes, block: bytes, size: int) -> Path:
    """A .gz of `head` and then `block` repeated up to `size` bytes, written member by member."""
    member = gzip_member(block)
    with path.open("wb") as out:
        out.write(gzip_member(head))
        for _ in range(size // len(block)):
            out.write(member)
    return path


ROW = b"someone@example.nl,Jan,Jansen\r\n"


@pytest.fixture
def rows_bomb(tmp_path: Path) -> Path:
    """4 GiB of valid rows in a few MB."""
    return bomb(tmp_path / "rows.csv.gz", b"email,first_name,last_name\r\n", ROW * (MiB // len(ROW)), 4 * GiB)


@pytest.fixture
def line_bomb(tmp_path: Path) -> Path:
    """A header, then one line of 4 GiB."""
    return bomb(tmp_path / "line.csv.gz", b"email\r\n", b"a" * MiB, 4 * GiB)


@pytest.fixture
def blank_bomb(tmp_path: Path) -> Path:
    """4 GiB of blank lines."""
    return bomb(tmp_path / "blank.csv.gz", b"", b"\n" * MiB, 4 * GiB)


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Apps on the test's database with some limits set (tenants come from `make_tenant`)."""
    made: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "RUN_WORKER": True,
                          "UPLOAD_DIR": str(tmp_path / f"uploads-{len(made)}"), **config})
        made.append(app)
        return app

    yield make
    for app in made:
        background.shutdown(app)
        app.extensions["safeguard.engine"].dispose()


def counts(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def upload(client: Any, tenant: Any, path: str, file: Path | bytes, settings: str | None = SETTINGS) -> Any:
    content = file.read_bytes() if isinstance(file, Path) else file
    data: dict[str, Any] = {"file": (io.BytesIO(content), "contacts.csv.gz")}
    if settings is not None:
        data["settings"] = settings
    return client.post(path, data=data, headers=tenant.auth(), content_type="multipart/form-data")


def assert_limit(response: Any, setting: str) -> str:
    """The 413 `limit_exceeded` envelope whose message names the setting; its message."""
    error = assert_error(response, 413, "limit_exceeded")
    assert setting in error["message"], error
    return str(error["message"])


def assert_still_answers(client: Any, tenant: Any) -> None:
    small = upload(client, tenant, "/api/v1/imports/inspect", b"email\r\nsanne@example.nl\r\n", None)
    assert small.status_code == 200 and small.json["columns"] == ["email"], small.json


# --- the file: decompressed size, expansion, rows, columns, a line's length -------------------------


def test_a_4_gb_gz_of_valid_rows_fails_its_job_in_seconds_with_the_default_limits(
        client, make_tenant, engine, rows_bomb):
    tenant = make_tenant()
    assert rows_bomb.stat().st_size < 16 * MiB
    before = counts(engine)
    started = time.monotonic()
    response = upload(client, tenant, "/api/v1/imports?wait=true", rows_bomb)
    assert time.monotonic() - started < QUICK
    job = response.json
    assert response.status_code == 200 and job["status"] == "failed", job
    assert "expands more than 100 times" in job["error"] and "SAFEGUARD_MAX_EXPANSION" in job["error"]
    assert job["report"] is None
    assert counts(engine) == {**before, "imports": before["imports"] + 1}  # the failed job, nothing else
    assert_still_answers(client, tenant)


def test_the_4_gb_rows_are_stopped_by_the_size_limit_where_the_expansion_is_allowed(
        make_app, make_tenant, engine, rows_bomb):
    app = make_app(MAX_EXPANSION=1e9, MAX_FILE_BYTES=2 * MiB)
    client, tenant = app.test_client(), make_tenant()
    started = time.monotonic()
    job = upload(client, tenant, "/api/v1/imports?wait=true", rows_bomb).json
    assert time.monotonic() - started < QUICK
    assert job["status"] == "failed" and "larger than 2 MB when decompressed" in job["error"], job
    assert "SAFEGUARD_MAX_FILE_MB" in job["error"]
    assert counts(engine)["contacts"] == 0


@pytest.mark.parametrize("path", ["/api/v1/imports/inspect", "/api/v1/imports?wait=true"])
def test_a_4_gib_line_is_refused_promptly_and_never_read_into_memory(make_app, make_tenant, engine,
                                                                     line_bomb, path):
    app = make_app(MAX_EXPANSION=1e9)  # the line's own limit, not the expansion, must stop it
    client, tenant = app.test_client(), make_tenant()
    before = counts(engine)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.monotonic()
    message = assert_limit(upload(client, tenant, path, line_bomb), "SAFEGUARD_MAX_LINE_KB")
    assert time.monotonic() - started < QUICK
    assert "row 2 (line 2): a line or row is longer than 1,048,576 characters" in message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 256 * 1024  # not 10.8 GB
    assert counts(engine) == before
    assert_still_answers(client, tenant)


@pytest.mark.parametrize("path", ["/api/v1/imports/inspect", "/api/v1/imports?wait=true"])
def test_4_gib_of_blank_lines_answer_within_seconds(client, make_tenant, engine, blank_bomb, path):
    tenant = make_tenant()
    before = counts(engine)
    started = time.monotonic()
    assert_limit(upload(client, tenant, path, blank_bomb), "SAFEGUARD_MAX_EXPANSION")
    assert time.monotonic() - started < QUICK
    assert counts(engine) == before
    assert_still_answers(client, tenant)


def test_blank_lines_count_toward_the_rows_limit(make_app, make_tenant, engine, blank_bomb):
    # The rows limit must end it, not the expansion (a million rows: the default's 20 million
    # blank lines take some 20 s to read).
    app = make_app(MAX_EXPANSION=1e9, MAX_ROWS=1_000_000)
    client, tenant = app.test_client(), make_tenant()
    started = time.monotonic()
    response = upload(client, tenant, "/api/v1/imports/inspect", blank_bomb)
    message = assert_limit(response, "SAFEGUARD_MAX_ROWS")
    assert time.monotonic() - started < QUICK
    assert "more than 1,000,000 rows" in message
    assert counts(engine)["imports"] == 0


def test_an_import_past_the_rows_limit_fails_in_the_background_worker(make_app, make_tenant, engine):
    app = make_app(MAX_ROWS=100)
    client, tenant = app.test_client(), make_tenant()
    content = b"email\r\n" + b"".join(b"p%d@example.nl\r\n" % i for i in range(150))
    response = upload(client, tenant, "/api/v1/imports", content)
    assert response.status_code == 202, response.json
    job = response.json
    deadline = time.monotonic() + QUICK
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/v1/imports/{job['id']}", headers=tenant.auth()).json
    assert job["status"] == "failed" and "more than 100 rows" in job["error"], job
    assert "SAFEGUARD_MAX_ROWS" in job["error"]
    assert counts(engine)["contacts"] == 0
    assert upload(client, tenant, "/api/v1/imports?wait=true", content[:500]).json["status"] == "succeeded"


def ten_thousand_columns() -> bytes:
    header = ",".join(["email"] + [f"c{i}" for i in range(1, 10_000)])
    row = ",".join(["sanne@example.nl"] + ["x"] * 9_999)
    return (header + "\r\n" + row + "\r\n").encode()


@pytest.mark.parametrize("path", ["/api/v1/imports/inspect", "/api/v1/imports?wait=true"])
def test_10000_columns_are_refused(client, make_tenant, engine, path):
    tenant = make_tenant()
    before = counts(engine)
    message = assert_limit(upload(client, tenant, path, ten_thousand_columns()), "SAFEGUARD_MAX_COLUMNS")
    assert "10,000 columns" in message and "at most 500" in message
    assert counts(engine) == before
    assert_still_answers(client, tenant)


def test_the_wizard_refuses_a_bomb_with_a_page_naming_the_limit(app, engine, make_tenant, line_bomb):
    tenant = make_tenant()
    user = signed_in(app, engine, tenant.id, "ann@example.nl")
    token = csrf_token(user.get("/imports/new"))
    started = time.monotonic()
    response = user.post("/imports/new", content_type="multipart/form-data", data={
        "file": (io.BytesIO(line_bomb.read_bytes()), "line.csv.gz"), "csrf_token": token})
    assert time.monotonic() - started < QUICK
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "SAFEGUARD_MAX_EXPANSION" in page and "Traceback" not in page
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM import_drafts")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM uploads")).scalar_one() == 0


# --- rule trees: depth and size ----------------------------------------------------------------------


def nested(depth: int) -> dict:
    rule: dict = {"field": "email", "op": "is_not_empty"}
    for _ in range(depth):
        rule = {"not": rule}
    return rule


def nested_text(depth: int) -> str:
    """A tree `depth` levels deep as JSON text, made without recursion (json.dumps would recurse)."""
    return '{"not": ' * depth + '{"field": "email", "op": "is_not_empty"}' + "}" * depth


def many_conditions(count: int) -> dict:
    return {"any": [{"field": "email", "op": "eq", "value": f"p{i}@example.nl"} for i in range(count)]}


def test_a_5000_deep_rule_tree_is_400_not_500(client, make_tenant, engine):
    tenant = make_tenant()
    before = counts(engine)
    body = '{"name": "deep", "rules": ' + nested_text(5_000) + "}"
    response = client.post("/api/v1/segments", data=body, content_type="application/json",
                           headers=tenant.auth())
    error = assert_error(response, 400, "invalid_json")
    assert "nests more than 100 levels" in error["message"]
    assert counts(engine) == before
    assert client.post("/api/v1/segments", json={"name": "ok", "rules": nested(3)},
                       headers=tenant.auth()).status_code == 201


@pytest.mark.parametrize(("rules", "setting"), [
    pytest.param(nested(21), "SAFEGUARD_MAX_RULE_DEPTH", id="21 levels"),
    pytest.param(many_conditions(501), "SAFEGUARD_MAX_RULE_CONDITIONS", id="501 conditions"),
    pytest.param({"all": [{"all": []}] * 600}, "SAFEGUARD_MAX_RULE_CONDITIONS", id="600 empty groups"),
])
def test_a_rule_tree_past_the_limits_is_413(client, make_tenant, engine, rules, setting):
    tenant = make_tenant()
    before = counts(engine)
    response = client.post("/api/v1/segments", json={"name": "big", "rules": rules}, headers=tenant.auth())
    assert_limit(response, setting)
    representative = {"rule": "prefer", "when": rules}
    assert client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                       headers=tenant.auth()).status_code == 201
    response = client.post("/api/v1/mailings", headers=tenant.auth(),
                           json={"name": "m", "include": [1], "representative": representative})
    assert_limit(response, setting)
    response = client.get("/api/v1/segments/1/preview", headers=tenant.auth(),
                          query_string={"representative": json.dumps(representative)})
    assert_limit(response, setting)
    assert counts(engine) == {**before, "segments": before["segments"] + 1}


def test_the_rule_limits_are_settings(make_app, make_tenant):
    app = make_app(MAX_RULE_DEPTH=3, MAX_RULE_CONDITIONS=5)
    client, tenant = app.test_client(), make_tenant()
    assert client.post("/api/v1/segments", json={"name": "a", "rules": nested(3)},
                       headers=tenant.auth()).status_code == 201
    message = assert_limit(client.post("/api/v1/segments", json={"name": "b", "rules": nested(4)},
                                       headers=tenant.auth()), "SAFEGUARD_MAX_RULE_DEPTH")
    assert "more than 3 levels" in message
    message = assert_limit(client.post("/api/v1/segments", json={"name": "c", "rules": many_conditions(5)},
                                       headers=tenant.auth()), "SAFEGUARD_MAX_RULE_CONDITIONS")
    assert "at most 5 conditions and groups" in message  # the group and its 5 conditions are 6


def test_saved_rules_outlive_a_lowered_limit(make_app, make_tenant, engine):
    """The rule limits hold trees as they come in: a segment saved under the limits of its day is
    read again whole, its preview and a mailing's check, after the limits were lowered."""
    roomy = make_app()
    client, tenant = roomy.test_client(), make_tenant()
    job = upload(client, tenant, "/api/v1/imports?wait=true", b"email\nann@example.nl\n").json
    assert job["status"] == "succeeded", job
    wide = many_conditions(8)
    wide["any"].append({"field": "email", "op": "eq", "value": "ann@example.nl"})
    rules = {"all": [nested(6), wide]}  # 6 levels, 18 conditions and groups
    assert client.post("/api/v1/segments", json={"name": "wide", "rules": rules},
                       headers=tenant.auth()).status_code == 201
    mailing = client.post("/api/v1/mailings", json={"name": "m", "include": [1]}, headers=tenant.auth())
    assert mailing.status_code == 201, mailing.json

    strict = make_app(MAX_RULE_DEPTH=3, MAX_RULE_CONDITIONS=5).test_client()
    preview = strict.get("/api/v1/segments/1/preview", headers=tenant.auth())
    assert preview.status_code == 200, preview.json  # before: 413 naming SAFEGUARD_MAX_RULE_DEPTH
    assert preview.json["contacts"] == 1
    answer = strict.post(f"/api/v1/mailings/{mailing.json['id']}/check", headers=tenant.auth("send"),
                         json={"addresses": ["ann@example.nl"]})
    assert answer.status_code == 200, answer.json
    assert [r["verdict"] for r in answer.json["results"]] == ["send"]
    # What comes in is held to the lowered limits.
    assert_limit(strict.post("/api/v1/segments", json={"name": "again", "rules": rules},
                             headers=tenant.auth()), "SAFEGUARD_MAX_RULE_DEPTH")


def test_the_field_index_keeper_reads_segments_saved_under_raised_limits(make_app, make_tenant, engine):
    """The keeper runs outside any request (its own thread: no app context, so no request's
    limits); a segment saved under raised limits still wants its index."""
    app = make_app(MAX_RULE_CONDITIONS=800)
    client, tenant = app.test_client(), make_tenant("shop", fields={"city": "text"})
    rules = {"any": [{"field": "city", "op": "eq", "value": f"city {i}"} for i in range(600)]}
    assert client.post("/api/v1/segments", json={"name": "cities", "rules": rules},
                       headers=tenant.auth()).status_code == 201
    wants = contextvars.Context().run(field_indexes.wanted, engine)  # a context as a new thread's
    dialect = engine.dialect.name
    assert set(wants) == {FieldIndex.of(tenant.id, "city", "text", dialect).name}  # before: none


def test_a_5000_deep_rule_query_parameter_is_refused(client, make_tenant):
    tenant = make_tenant()
    assert client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                       headers=tenant.auth()).status_code == 201
    representative = '{"rule": "prefer", "when": ' + nested_text(5_000) + "}"
    response = client.get("/api/v1/segments/1/preview", query_string={"representative": representative},
                          headers=tenant.auth())
    assert_limit(response, "SAFEGUARD_MAX_RULE_DEPTH")


def test_the_builder_form_refuses_deep_and_large_trees(app, engine, make_tenant):
    tenant = make_tenant()
    user = signed_in(app, engine, tenant.id, "ann@example.nl")
    token = csrf_token(user.get("/segments/new"))
    before = counts(engine)
    response = user.post("/segments/new", data={"name": "deep", "rules": nested_text(5_000),
                                                 "csrf_token": token})
    assert response.status_code == 400  # before: json.loads recursed, RecursionError, 500
    assert "nests more than 100 levels" in response.get_data(as_text=True)
    response = user.post("/segments/new", data={"name": "deep", "rules": json.dumps(nested(25)),
                                                 "csrf_token": token})
    assert response.status_code == 413
    assert "SAFEGUARD_MAX_RULE_DEPTH" in response.get_data(as_text=True)
    response = user.post("/segments/preview", data=json.dumps({"rules": many_conditions(501)}),
                         content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 413
    assert "SAFEGUARD_MAX_RULE_CONDITIONS" in response.get_json()["error"]["message"]
    assert counts(engine) == before
    assert user.post("/segments/preview", data=json.dumps({"rules": nested(2)}),
                     content_type="application/json", headers={"X-CSRFToken": token}).status_code == 200


# --- batches and bodies --------------------------------------------------------------------------------


def the_contact(engine: Any) -> int:
    """The id of the one contact the `mailing` fixture imports."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM contacts")).scalar_one())


@pytest.fixture
def mailing(client, make_tenant):  # type: ignore[no-untyped-def]
    """A tenant with one contact, segment 1 and mailing 1."""
    tenant = make_tenant()
    job = upload(client, tenant, "/api/v1/imports?wait=true", b"email\r\nsanne@example.nl\r\n").json
    assert job["status"] == "succeeded", job
    assert client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                       headers=tenant.auth()).status_code == 201
    assert client.post("/api/v1/mailings", json={"name": "m", "include": [1]},
                       headers=tenant.auth()).status_code == 201
    return tenant


@pytest.mark.parametrize(("path", "body"), [
    pytest.param("check", {"contacts": list(range(1, 10_002))}, id="check of 10,001 contacts"),
    pytest.param("check", {"addresses": [f"p{i}@example.nl" for i in range(10_001)]},
                 id="check of 10,001 addresses"),
    pytest.param("release", {"contacts": list(range(1, 10_002))}, id="release"),
    pytest.param("confirm", {"contacts": list(range(1, 10_002))}, id="confirm"),
])
def test_a_batch_over_the_limit_is_413(client, mailing, engine, path, body):
    before = counts(engine)
    response = client.post(f"/api/v1/mailings/1/{path}", json=body, headers=mailing.auth("send"))
    message = assert_limit(response, "SAFEGUARD_MAX_BATCH")
    assert "at most 10,000" in message and "10,001" in message
    assert counts(engine) == before
    answer = client.post("/api/v1/mailings/1/check", json={"contacts": [the_contact(engine)]},
                         headers=mailing.auth("send"))
    assert answer.status_code == 200 and answer.json["results"][0]["verdict"] == "send", answer.json


def test_events_over_the_limit_are_413(client, mailing, engine):
    before = counts(engine)
    events = [{"type": "unsubscribe", "contact": the_contact(engine)}] * 10_001
    response = client.post("/api/v1/events", json={"events": events}, headers=mailing.auth("send"))
    assert "at most 10,000 events" in assert_limit(response, "SAFEGUARD_MAX_BATCH")
    assert counts(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM contacts")).scalar_one() == "active"


def test_the_batch_and_body_limits_are_settings(make_app, mailing, engine):
    client = make_app(MAX_BATCH=2, MAX_BODY_BYTES=4096).test_client()
    before = counts(engine)
    response = client.post("/api/v1/mailings/1/check", json={"contacts": [1, 2, 3]},
                           headers=mailing.auth("send"))
    assert "at most 2 contacts" in assert_limit(response, "SAFEGUARD_MAX_BATCH")
    events = [{"type": "unsubscribe", "contact": the_contact(engine)}] * 3
    response = client.post("/api/v1/events", json={"events": events}, headers=mailing.auth("send"))
    assert "at most 2 events" in assert_limit(response, "SAFEGUARD_MAX_BATCH")
    body = json.dumps({"addresses": ["x" * 3000 + "@example.nl", "y" * 3000 + "@example.nl"]})
    response = client.post("/api/v1/mailings/1/check", data=body, content_type="application/json",
                           headers=mailing.auth("send"))
    assert "larger than" in assert_limit(response, "SAFEGUARD_MAX_BODY_MB")
    assert counts(engine) == before
    answer = client.post("/api/v1/mailings/1/check", json={"contacts": [the_contact(engine)]},
                         headers=mailing.auth("send"))
    assert answer.status_code == 200, answer.json


def test_the_openapi_document_names_the_limits(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, method, setting in [("/api/v1/imports", "post", "SAFEGUARD_MAX_EXPANSION"),
                                  ("/api/v1/imports/inspect", "post", "SAFEGUARD_MAX_LINE_KB"),
                                  ("/api/v1/segments", "post", "SAFEGUARD_MAX_RULE_DEPTH"),
                                  ("/api/v1/mailings/{mailing_id}/check", "post", "SAFEGUARD_MAX_BATCH"),
                                  ("/api/v1/events", "post", "SAFEGUARD_MAX_BATCH")]:
        assert setting in paths[path][method]["responses"]["413"]["description"], path


def test_the_command_line_names_the_limit_and_its_setting(cli, engine, monkeypatch, tmp_path):
    monkeypatch.setenv("SAFEGUARD_MAX_ROWS", "100")
    assert cli("accounts", "create", "acme").exit_code == 0
    rows, columns = tmp_path / "rows.csv", tmp_path / "columns.csv"
    rows.write_bytes(b"email\r\n" + b"".join(b"p%d@example.nl\r\n" % i for i in range(150)))
    columns.write_bytes(ten_thousand_columns())
    result = cli("import", str(rows), "--account", "acme")
    assert result.exit_code == 1 and "more than 100 rows" in result.stderr, result.output
    assert "SAFEGUARD_MAX_ROWS" in result.stderr
    result = cli("import", str(columns), "--account", "acme")
    assert result.exit_code == 1 and "cannot read" in result.stderr
    assert "SAFEGUARD_MAX_COLUMNS" in result.stderr
    assert counts(engine)["contacts"] == 0
