"""Fixtures: a fresh database per test, on SQLite and on PostgreSQL, and an app on top of it.

Every database test runs twice, once per engine. PostgreSQL comes from TEST_DATABASE_URL; each
test run works in a schema of its own, so runs on one server never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, SQLModel

from service import background, create_app
from service.cli import Context, main
from service.db import upgrade_database
from service.domain.accounts import create_account, create_field, create_link
from service.domain.api_keys import create_key

# Every table of the models, emptied between tests (children first).
TABLES = tuple(table.name for table in reversed(SQLModel.metadata.sorted_tables))


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str | None]:
    """A migrated schema of its own on the test PostgreSQL server (None without a server)."""
    base = _postgres_url()
    if not base:
        yield None
        return
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # the server is absent or refuses us
        admin.dispose()
        yield f"unreachable: {error}"
        return
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    upgrade_database(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_schema_url: str | None) -> str:
    """The migrated PostgreSQL schema of this run, for the few tests that concern PostgreSQL only."""
    if postgres_schema_url is None:
        _skip_or_fail("PostgreSQL tests need TEST_DATABASE_URL, e.g. "
                      "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert postgres_schema_url is not None
    if postgres_schema_url.startswith("unreachable:"):
        _skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is {postgres_schema_url}")
    return postgres_schema_url


def fresh_database_url(request: pytest.FixtureRequest, engine_name: str, path: Path,
                       sqlite_template: Path) -> str:
    """A migrated, empty database of `engine_name`: a copy of the template at `path` (SQLite), or
    this run's schema emptied (PostgreSQL; skipped, or failed in CI, without a server)."""
    if engine_name == "sqlite":
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_schema_url")
    if url is None:
        _skip_or_fail("PostgreSQL tests need TEST_DATABASE_URL, e.g. "
                      "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if url.startswith("unreachable:"):
        _skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is {url}")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated, empty database: SQLite and PostgreSQL in turn."""
    return fresh_database_url(request, request.param, tmp_path / "test.db", sqlite_template)


@pytest.fixture
def app(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    # The field indexes' keeper builds indexes in the background (CONCURRENTLY on PostgreSQL), in
    # the schema every test shares: only the tests of it turn it on (test_field_indexes.py).
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "RUN_WORKER": True,
                      "UPLOAD_DIR": str(tmp_path / "uploads"), "FIELD_INDEXES": False})
    yield app
    background.shutdown(app)
    app.extensions["safeguard.engine"].dispose()


@pytest.fixture
def engine(app):  # type: ignore[no-untyped-def]
    return app.extensions["safeguard.engine"]


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@dataclass
class Tenant:
    """An account made for a test, with a key per scope."""

    id: int
    name: str
    keys: dict[str, str]

    def auth(self, scope: str = "manage") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


def new_tenant(engine: Engine, name: str, dedup_mode: str = "email", *,
               links: dict[str, str | None] | None = None, fields: dict[str, str] | None = None) -> Tenant:
    """Make an account with manage, send and admin keys, and optionally links and fields."""
    with Session(engine, expire_on_commit=False) as session:
        account = create_account(session, name=name, dedup_mode=dedup_mode)
        for link_name, pattern in (links or {}).items():
            create_link(session, account=account, name=link_name, label=link_name.upper(),
                        id_pattern=pattern)
        for field_name, type_ in (fields or {}).items():
            create_field(session, account=account, name=field_name, type=type_)
        keys = {scope: create_key(session, account=account, scope=scope)
                for scope in ("manage", "send", "admin")}
        return Tenant(account.id, name, keys)


@pytest.fixture
def make_tenant(engine):  # type: ignore[no-untyped-def]
    """Make an account with manage, send and admin keys, and optionally links and fields."""

    def make(name: str = "acme", dedup_mode: str = "email", *, links: dict[str, str | None] | None = None,
             fields: dict[str, str] | None = None) -> Tenant:
        return new_tenant(engine, name, dedup_mode, links=links, fields=fields)

    return make


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    """Write rows as CSV text in the given encoding."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


@pytest.fixture
def post_import(client):  # type: ignore[no-untyped-def]
    """POST a file and settings to /imports?wait=true as a tenant; return the response."""
    import io
    import json

    def post(tenant: Tenant, content: bytes | list[list[str]], settings: dict | str | None = None,
             *, filename: str = "contacts.csv", wait: bool = True, scope: str = "manage"):
        if isinstance(content, list):
            content = csv_bytes(content)
        data = {"file": (io.BytesIO(content), filename)}
        if settings is not None:
            data["settings"] = settings if isinstance(settings, str) else json.dumps(settings)
        return client.post("/api/v1/imports" + ("?wait=true" if wait else ""), data=data,
                           headers=tenant.auth(scope), content_type="multipart/form-data")

    return post


@pytest.fixture
def contacts_of(engine):  # type: ignore[no-untyped-def]
    """Read an account's contacts straight from the database, with their external IDs."""

    def read(account_id: int) -> list[dict]:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, email, address_key, status, attributes, created_at, updated_at "
                "FROM contacts WHERE account_id = :a ORDER BY id"), {"a": account_id}).mappings().all()
            ids = conn.execute(text(
                "SELECT e.contact_id, l.name, e.value, e.merged FROM external_ids e "
                "JOIN links l ON l.id = e.link_id WHERE e.account_id = :a ORDER BY e.id"),
                {"a": account_id}).all()
        own_ids: dict[int, dict[str, str]] = {}
        for contact_id, link_name, value, merged in ids:
            if not merged:
                own_ids.setdefault(contact_id, {})[link_name] = value
        result = []
        for row in rows:
            contact = dict(row)
            if isinstance(contact["attributes"], str):
                import json

                contact["attributes"] = json.loads(contact["attributes"])
            contact["ids"] = own_ids.get(row["id"], {})
            result.append(contact)
        return result

    return read


# --- import helpers (integration tests of the import API) -----------------------------------------

REPORT_PARTS = ("created", "updated", "unchanged", "skipped", "merged_in_file", "rejected")


def assert_nothing_lost(report: dict) -> None:
    """The report's invariant: every data row is counted exactly once."""
    assert sum(report[part] for part in REPORT_PARTS) == report["rows"], report
    assert sum(report["rejected_by_reason"].values()) == report["rejected"], report
    assert 0 <= report["created_shared_address"] <= report["created"], report
    assert 0 <= report["status_kept"] <= report["updated"] + report["unchanged"], report


@pytest.fixture
def import_ok(post_import):  # type: ignore[no-untyped-def]
    """POST an import and wait; assert it succeeded with a balanced report; return the job."""

    def run(tenant: Tenant, content: bytes | list[list[str]], settings: dict | None = None,
            **kwargs) -> dict:  # type: ignore[no-untyped-def]
        response = post_import(tenant, content, settings, **kwargs)
        assert response.status_code == 200, response.json
        job = response.json
        assert job["status"] == "succeeded", job
        assert_nothing_lost(job["report"])
        return job

    return run


@pytest.fixture
def rejected_rows(client):  # type: ignore[no-untyped-def]
    """Download an import's rejected.csv and parse it: (header, rows)."""
    import csv
    import io

    def read(tenant: Tenant, import_id: int) -> tuple[list[str], list[list[str]]]:
        response = client.get(f"/api/v1/imports/{import_id}/rejected.csv", headers=tenant.auth())
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/csv"
        records = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        return records[0], records[1:]

    return read


@pytest.fixture
def inspect_upload(client):  # type: ignore[no-untyped-def]
    """POST a file to /imports/inspect; return the response."""
    import io

    def inspect(tenant: Tenant, content: bytes, filename: str = "contacts.csv"):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/imports/inspect", data={"file": (io.BytesIO(content), filename)},
                           headers=tenant.auth(), content_type="multipart/form-data")

    return inspect


@pytest.fixture
def api_contact(client):  # type: ignore[no-untyped-def]
    """GET /contacts/{id} as a tenant; return the JSON body."""

    def get(tenant: Tenant, contact_id: int) -> dict:
        response = client.get(f"/api/v1/contacts/{contact_id}", headers=tenant.auth())
        assert response.status_code == 200, response.json
        return response.json

    return get


@pytest.fixture
def import_rows(import_ok):  # type: ignore[no-untyped-def]
    """Import CSV rows with a header row; the import must succeed and lose no row (import_ok)."""

    def run(tenant, rows: list[list[str]], settings: dict) -> dict:  # type: ignore[no-untyped-def]
        return import_ok(tenant, rows, {"has_header": True, "delimiter": ",", **settings})

    return run


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `safeguard ARGS...` in this process against the test database; return click's Result."""
    contexts: list[Context] = []
    env = {"DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "cli-uploads")}

    def run(*args: str, input: str | None = None) -> Result:  # noqa: A002  (click's name)
        context = Context()
        contexts.append(context)
        return CliRunner().invoke(main, list(args), obj=context, env=env, input=input,
                                  catch_exceptions=False)

    yield run
    for context in contexts:
        if context._app is not None:
            background.shutdown(context._app)
            context._app.extensions["safeguard.engine"].dispose()
