"""One populated service per database for the hostile-input corpus and the isolation matrix.

The requests of these suites are refused (or change only an account of their own), so they can share
one world per module: two accounts with contacts, a rejected import row, a segment, a mailing with
ledger entries, a dedup change, a key, an import draft and a signed-in user each. Making it once per
module and database instead of once per test keeps the hundreds of cases within CI's budget; every
case checks that the world is as it was, so a case that changes it fails instead of hiding.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from service import background, create_app
from tests.conftest import TABLES, Tenant, csv_bytes, fresh_database_url, new_tenant
from tests.integration.page_helpers import csrf_token, signed_in

# Tables a refused request may rightly write to: every upload counts toward its sender's rate limit.
BOOKKEEPING = {"rate_events"}

# The rows each account imports: `{name}` is the account's name, so that its data is recognisable
# in any answer given to the other account.
ROWS = [["nr", "email", "first_name"],
        ["K1", "anna@{name}.example", "Anna {name}"],
        ["K2", "bram@{name}.example", "Bram {name}"],
        ["K3", "not-an-address", "Carla {name}"]]  # rejected: a rejected.csv with the account's data
SETTINGS = {"mapping": {"email": "email", "first_name": "first_name"},
            "create_fields": {"first_name": "text"}}


@dataclass
class Party:
    """An account of the world: its keys, a signed-in page client, and its objects' ids."""

    tenant: Tenant
    user: FlaskClient
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.tenant.name

    def auth(self, scope: str = "manage") -> dict[str, str]:
        return self.tenant.auth(scope)


@dataclass
class World:
    app: Flask
    engine: Engine
    client: FlaskClient
    victim: Party
    intruder: Party

    def counts(self) -> dict[str, int]:
        """Every table's row count, in one statement (it runs around each of hundreds of cases)."""
        tables = [t for t in TABLES if t not in BOOKKEEPING]
        query = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        with self.engine.connect() as conn:
            return dict(zip(tables, conn.execute(text(query)).one(), strict=True))

    def snapshot(self, account_id: int) -> list[tuple]:
        """What an account holds that a refused request must leave alone (contacts and ledger)."""
        with self.engine.connect() as conn:
            contacts = conn.execute(text(
                "SELECT id, email, status, attributes, updated_at FROM contacts WHERE account_id = :a "
                "ORDER BY id"), {"a": account_id}).all()
            ledger = conn.execute(text(
                "SELECT l.contact_id, l.state FROM send_ledger l JOIN mailings m ON m.id = l.mailing_id "
                "WHERE m.account_id = :a ORDER BY l.contact_id"), {"a": account_id}).all()
        return [tuple(row) for row in contacts] + [tuple(row) for row in ledger]

    def new_tenant(self, name: str) -> Tenant:
        """A fresh account for a case that imports (so that its rows change nobody else)."""
        return new_tenant(self.engine, name)


def _party(world_app: Flask, engine: Engine, client: FlaskClient, name: str) -> Party:
    tenant = new_tenant(engine, name)
    party = Party(tenant, signed_in(world_app, engine, tenant.id, f"user@{name}.example", is_admin=True))
    auth = tenant.auth()
    assert client.post("/api/v1/links", json={"name": "crm", "label": f"CRM of {name}"},
                       headers=auth).status_code == 201
    rows = [[cell.format(name=name) for cell in row] for row in ROWS]
    job = client.post("/api/v1/imports?wait=true", headers=auth, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(csv_bytes(rows)), f"{name}.csv"),
                            "settings": json.dumps(SETTINGS)}).json
    assert job["report"]["created"] == 2 and job["report"]["rejected"] == 1, job
    party.ids["import_id"] = job["id"]
    contacts = client.get("/api/v1/contacts", headers=auth).json["contacts"]
    party.ids["contact_id"] = contacts[0]["id"]
    party.ids["segment_id"] = client.post("/api/v1/segments", json={"name": f"Segment of {name}",
                                                                    "rules": {"all": []}},
                                          headers=auth).json["id"]
    party.ids["mailing_id"] = client.post("/api/v1/mailings", json={
        "name": f"Mailing of {name}", "include": [party.ids["segment_id"]]}, headers=auth).json["id"]
    check = client.post(f"/api/v1/mailings/{party.ids['mailing_id']}/check",
                        json={"contacts": [c["id"] for c in contacts]}, headers=tenant.auth("send"))
    assert check.status_code == 200, check.json
    change = client.post("/api/v1/dedup/apply", json={"to": "external_id", "link": "crm"},
                         headers=tenant.auth("admin"))
    assert change.status_code == 200, change.json
    party.ids["change_id"] = change.json["change_id"]
    party.ids["key_id"] = client.get("/api/v1/keys", headers=tenant.auth("admin")).json["keys"][0]["id"]
    upload = party.user.post("/imports/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(party.user.get("/imports/new")),
        "file": (io.BytesIO(csv_bytes(rows)), f"{name}.csv")})
    found = re.search(r"/imports/drafts/(\d+)/", upload.headers.get("Location", ""))
    assert found, upload.headers
    party.ids["draft_id"] = int(found.group(1))
    return party


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          sqlite_template: Path) -> Iterator[World]:
    """Two populated accounts, "victim" and "intruder", on SQLite and on PostgreSQL in turn."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    url = fresh_database_url(request, request.param, tmp_path / "hostile.db", sqlite_template)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "RUN_WORKER": True,
                      "UPLOAD_DIR": str(tmp_path / "uploads")})
    engine = app.extensions["safeguard.engine"]
    client = app.test_client()
    victim = _party(app, engine, client, "victim")
    intruder = _party(app, engine, client, "intruder")
    yield World(app, engine, client, victim, intruder)
    background.shutdown(app)
    engine.dispose()
