"""The load run of issue 3: concurrent mailing-system workers checking overlapping batches.

`safeguard serve` (gunicorn, several worker processes) on the loaded PostgreSQL account; 8
clients at once, each sending 100 batches of 1,000 contacts to one mailing, every batch
overlapping the batches of the other clients. Reports the throughput, and asserts from the
ledger that no address was cleared twice and that every `send` answered is one claim.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from service.domain.api_keys import create_key
from service.models import Account

CLIENTS = 8
BATCHES = 100
BATCH = 1000
POOL = 100_000  # contacts the batches are cut from: each is asked about several times
WORKERS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(conn: http.client.HTTPConnection, method: str, path: str, key: str,
             body: dict | None = None) -> dict:
    payload = None if body is None else json.dumps(body)
    conn.request(method, path, body=payload, headers={"Authorization": f"Bearer {key}",
                                                      "Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    assert response.status in (200, 201), data
    return data


@pytest.fixture
def served(loaded_postgres: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": loaded_postgres}
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                                "--workers", str(WORKERS)], env=env, stdout=subprocess.DEVNULL,
                               stderr=(tmp_path / "server.log").open("wb"))
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=30)


def test_load_run(benchmark, served, loaded_postgres):  # type: ignore[no-untyped-def]
    engine = create_engine(loaded_postgres)
    with Session(engine, expire_on_commit=False) as session:
        account = session.exec(select(Account).where(Account.name == "bench")).one()
        manage = create_key(session, account=account, scope="manage")
        send = create_key(session, account=account, scope="send")
    with engine.connect() as conn:
        pool = list(conn.execute(text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id LIMIT :n"),
                                 {"a": account.id, "n": POOL}).scalars())
    setup = http.client.HTTPConnection("127.0.0.1", served, timeout=120)
    segment = _request(setup, "POST", "/api/v1/segments", manage,
                       {"name": f"load-{uuid.uuid4().hex[:8]}", "rules": {"all": []}})
    mailing = _request(setup, "POST", "/api/v1/mailings", manage,
                       {"name": f"load-{uuid.uuid4().hex[:8]}", "include": [segment["id"]]})["id"]

    def client(number: int) -> list[int]:
        """One mailing-system worker: its batches start half a batch after the previous client's."""
        conn = http.client.HTTPConnection("127.0.0.1", served, timeout=120)
        cleared = []
        for batch in range(BATCHES):
            start = ((batch * CLIENTS + number) * BATCH // 2) % (len(pool) - BATCH)
            answer = _request(conn, "POST", f"/api/v1/mailings/{mailing}/check", send,
                              {"contacts": pool[start:start + BATCH]})
            cleared += [r["contact"] for r in answer["results"] if r["verdict"] == "send"]
        conn.close()
        return cleared

    def run() -> list[int]:
        with ThreadPoolExecutor(CLIENTS) as clients:
            return [c for part in clients.map(client, range(CLIENTS)) for c in part]

    started = time.perf_counter()
    cleared = benchmark.pedantic(run, rounds=1)
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        twice = conn.execute(text(
            "SELECT count(*) FROM (SELECT address_key FROM send_ledger WHERE mailing_id = :m "
            "AND state IN ('claimed', 'sent') GROUP BY address_key HAVING count(*) > 1) t"),
            {"m": mailing}).scalar_one()
        claims = conn.execute(text("SELECT count(*) FROM send_ledger WHERE mailing_id = :m"),
                              {"m": mailing}).scalar_one()
    engine.dispose()
    checked = CLIENTS * BATCHES * BATCH
    benchmark.extra_info.update({"contacts_checked": checked, "cleared": len(cleared),
                                 "contacts_per_second": round(checked / elapsed),
                                 "batches_per_second": round(CLIENTS * BATCHES / elapsed, 1)})
    print(f"\nload run: {checked} contacts in {CLIENTS * BATCHES} batches, {elapsed:.1f} s: "
          f"{checked / elapsed:,.0f} contacts/s, {len(cleared)} cleared, addresses cleared twice: {twice}")
    assert twice == 0
    assert len(cleared) == len(set(cleared)) == claims  # every send answered is exactly one claim
