"""/healthz, /readyz and /metrics: no key, on both databases; readiness refused on a database that
is empty, behind the newest migration, or away."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from service import background, create_app
from service.db import alembic_config, upgrade_database
from service.readiness import code_heads


def _app(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_app({"TESTING": True, "DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path / "uploads")})


def _closed(app) -> None:  # type: ignore[no-untyped-def]
    background.shutdown(app)
    app.extensions["safeguard.engine"].dispose()


def test_health_needs_no_key_and_no_database(tmp_path):
    app = _app("postgresql+psycopg://nobody@127.0.0.1:1/nothing", tmp_path)
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 200 and response.json == {"status": "ok"}
        away = app.test_client().get("/readyz")
        assert away.status_code == 503
        assert away.json["error"]["code"] == "database_unavailable"
        assert "does not answer" in away.json["error"]["message"]
        assert app.test_client().get("/metrics").status_code == 200  # the process' own metrics
    finally:
        _closed(app)


def test_ready_on_a_current_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "ready", "schema": max(code_heads())}
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def behind_url(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A database of the test's engine migrated to the revision before the newest (dropped after)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'behind.db'}"
        command.upgrade(alembic_config(url), "0006")
        yield url
        return
    schema = f"behind_{uuid.uuid4().hex[:8]}"
    base = database_url.split("?")[0]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{base}?options={quote(f'-csearch_path={schema}')}"
    command.upgrade(alembic_config(url), "0006")
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_not_ready_while_the_schema_is_behind_then_ready_after_the_upgrade(behind_url, tmp_path):
    app = _app(behind_url, tmp_path)
    try:
        client = app.test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        error = response.json["error"]
        assert error["code"] == "schema_behind"
        assert "at 0006" in error["message"] and "safeguard db upgrade" in error["message"]
        assert client.get("/healthz").status_code == 200
        upgrade_database(behind_url)
        assert client.get("/readyz").status_code == 200
    finally:
        _closed(app)


def test_not_ready_on_an_empty_database(tmp_path):
    app = _app(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["error"]["code"] == "schema_behind"
        assert "no revision (empty)" in response.json["error"]["message"]
    finally:
        _closed(app)


def test_the_probes_open_no_session_and_set_no_cookie(client):
    """The pages' session key lives in the database: a probe must not need it."""
    for path in ("/healthz", "/readyz", "/metrics"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
