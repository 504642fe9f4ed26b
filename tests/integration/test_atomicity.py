"""An import killed half-way leaves the account as it was, and its job is reported failed.

A real `safeguard import` process is killed with SIGKILL (no clean-up of any kind can run), on SQLite
and on PostgreSQL, once while it reads the file and once while it applies the plan.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from service import scratch
from service.db import make_engine

ROWS = 200_000
KNOWN = 50  # contacts the account has before; the big file would update them


def _big_file(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "first_name"])
        for i in range(KNOWN):
            writer.writerow([f"known{i}@example.nl", "Changed"])
        for i in range(ROWS - KNOWN):
            writer.writerow([f"person{i}@example{i % 97}.nl", f"Name {i}"])
    return path


def _snapshot(engine, account_id: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        contacts = conn.execute(text(
            "SELECT id, email, address_key, status, attributes, created_at, updated_at FROM contacts "
            "WHERE account_id = :a ORDER BY id"), {"a": account_id}).all()
        fields = conn.execute(text("SELECT name FROM fields WHERE account_id = :a ORDER BY name"),
                              {"a": account_id}).all()
    return [tuple(str(v) for v in row) for row in contacts] + [("field", name) for (name,) in fields]


def _safeguard() -> list[str]:
    script = Path(sys.executable).parent / "safeguard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import main; main()"]


def _wait_for(engine, account_id: int, process: subprocess.Popen, phase: str) -> dict:  # type: ignore[no-untyped-def]
    """Poll the account's import until it is in `phase` with rows done; return the job's row."""
    deadline = time.monotonic() + 120
    seen = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the import ended (exit {process.returncode}) before it could be killed; "
                                 f"last seen: {seen}")
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT id, status, phase, rows_done FROM imports WHERE account_id = :a ORDER BY id DESC"),
                {"a": account_id}).mappings().first()
        seen = dict(row) if row else None
        if seen and seen["phase"] == phase and seen["rows_done"] > 0:
            return seen
        time.sleep(0.005)
    raise AssertionError(f"the import never reached {phase}: {seen}")


@pytest.mark.parametrize("phase", ["reading", "applying"])
def test_a_killed_import_changes_nothing_and_is_reported_failed(
        database_url, tmp_path, engine, client, make_tenant, post_import, phase):
    tenant = make_tenant(fields={"first_name": "text"})
    known = [["email", "first_name"], *([f"known{i}@example.nl", "Original"] for i in range(KNOWN))]
    assert post_import(tenant, known, {"mapping": {"email": "email", "first_name": "first_name"}}).json[
        "report"]["created"] == KNOWN
    before = _snapshot(engine, tenant.id)

    path = _big_file(tmp_path / "big.csv")
    env = {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "uploads")}
    process = subprocess.Popen(
        [*_safeguard(), "import", str(path), "--account", tenant.name, "--map", "email=email",
         "--map", "first_name=first_name", "--create-field", "city=text"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        job = _wait_for(engine, tenant.id, process, phase)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    assert _snapshot(engine, tenant.id) == before
    # Its copy of the file is known for what a dead process left, and removed (by the next import or
    # worker; here at once), instead of a 200k-row file left in the system's temporary folder for good.
    assert scratch.sweep(tmp_path / "uploads") == 1
    assert list((tmp_path / "uploads").iterdir()) == []
    response = client.get(f"/api/v1/imports/{job['id']}", headers=tenant.auth())
    assert response.status_code == 200, response.json
    assert response.json["status"] == "failed", response.json
    assert response.json["error"]
    assert response.json["report"] is None

    # Nothing is left locked or half-made: the next import works, and sees the account as it was.
    again = post_import(tenant, [["email", "first_name"], ["known0@example.nl", "Again"],
                                 ["new@example.nl", "New"]],
                        {"mapping": {"email": "email", "first_name": "first_name"}})
    assert again.status_code == 200 and again.json["status"] == "succeeded", again.json
    assert (again.json["report"]["updated"], again.json["report"]["created"]) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contacts WHERE account_id = :a"),
                            {"a": tenant.id}).scalar_one() == KNOWN + 1


def test_postgresql_notices_a_dead_client_within_seconds(postgres_url):
    """Without this, a killed import's statement runs on (holding the account's lock) until it ends."""
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        if int(conn.execute(text("SHOW server_version_num")).scalar_one()) < 140000:
            pytest.skip("client_connection_check_interval needs PostgreSQL 14")
        interval = conn.execute(text("SHOW client_connection_check_interval")).scalar_one()
        temp_buffers = conn.execute(text("SHOW temp_buffers")).scalar_one()
    engine.dispose()
    assert temp_buffers == "256MB"  # imports stage in temporary tables
    assert interval not in ("0", "0ms")
    assert interval.endswith("s") and int(interval.rstrip("ms")) <= 5
