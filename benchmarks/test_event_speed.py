"""The mailing system's events at the stated size: a batch of 10,000 on an account of 100,000.

Target (issue 10): POST /api/v1/events with 10,000 events in at most 1 s on SQLite and on
PostgreSQL, through the Flask test client (JSON in and out included). The events are mixed like
a bounce feed: soft bounces (a few addresses three times, which makes them bounced), hard
bounces, unsubscribes and complaints, half by contact id and half by address, on many domains,
1 in 20 repeating an event_id seen earlier in the batch. Each round takes other contacts, so
that every round changes statuses. Run with `make bench`.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from benchmarks.conftest import DATA
from benchmarks.generate import write
from benchmarks.setup_account import fresh_account, import_settings, new_job
from importer.pipeline import run_import
from service import background, create_app
from service.domain.api_keys import create_key
from service.models import Account

CONTACTS = 100_000
EVENTS = 10_000
ROUNDS = 3
KINDS = ["soft_bounce"] * 4 + ["hard_bounce"] * 2 + ["unsubscribe"] * 3 + ["complaint"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database with the benchmark account and its 100,000 contacts."""
    schema = None
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path_factory.mktemp('events') / 'events.db'}"
    else:
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            pytest.skip("PostgreSQL benchmarks need TEST_DATABASE_URL")
        schema = f"bench_events_{uuid.uuid4().hex[:8]}"
        with create_engine(base).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        database = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    engine, account = fresh_account(database)
    source = write(DATA / f"contacts-{CONTACTS}.csv", CONTACTS)
    run_import(engine, account, import_settings(), source, import_id=new_job(engine, account))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()
    yield database
    if schema is not None:
        with create_engine(os.environ["TEST_DATABASE_URL"]).begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def _feed(rng: random.Random, contacts: list[tuple[int, str]], round_: int) -> list[dict]:
    """A bounce feed of EVENTS events on these contacts (in this order)."""
    events: list[dict] = []
    for n, (contact_id, email) in enumerate(contacts[:EVENTS]):
        kind = rng.choice(KINDS)
        event: dict = {"type": kind, "event_id": f"r{round_}-{n}",
                       "occurred_at": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"}
        event.update({"contact": contact_id} if n % 2 else {"address": email})
        if kind.endswith("bounce"):
            event["detail"] = f"550 5.1.1 <{email}>: Recipient address rejected: User unknown"
        if n % 20 == 19:
            event["event_id"] = f"r{round_}-{n - 7}"  # a duplicate of an earlier one
        elif n % 50 == 25:
            events.extend([{**event, "type": "soft_bounce", "event_id": f"r{round_}-{n}-{k}"}
                           for k in range(2)])  # with this one, three soft bounces at the address
        events.append(event)
    return events[:EVENTS]


def test_ten_thousand_events(benchmark, url):  # type: ignore[no-untyped-def]
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    client = app.test_client()
    engine = app.extensions["safeguard.engine"]
    with Session(engine, expire_on_commit=False) as session:
        account = session.exec(select(Account).where(Account.name == "bench")).one()
        headers = {"Authorization": f"Bearer {create_key(session, account=account, scope='send')}"}
    with engine.connect() as conn:
        contacts = [tuple(row) for row in conn.execute(text(
            "SELECT id, email FROM contacts WHERE account_id = :a ORDER BY id"), {"a": account.id})]
    rng = random.Random(20261202)
    rng.shuffle(contacts)
    batches = iter([_feed(rng, contacts[r * EVENTS:(r + 1) * EVENTS], r) for r in range(ROUNDS + 1)])
    answers: Counter[str] = Counter()
    spans: list[float] = []

    def setup() -> tuple[tuple[list[dict]], dict]:
        return (next(batches),), {}

    def run(events: list[dict]) -> None:
        started = time.perf_counter()
        response = client.post("/api/v1/events", json={"events": events}, headers=headers)
        spans.append(time.perf_counter() - started)
        assert response.status_code == 200, response.json
        answers.update(result["status"] for result in response.json["results"])

    try:
        benchmark.pedantic(run, setup=setup, rounds=ROUNDS, warmup_rounds=1)
        with engine.connect() as conn:
            statuses = dict(conn.execute(text("SELECT status, count(*) FROM contacts GROUP BY status")).all())
    finally:
        background.shutdown(app)
        engine.dispose()
    benchmark.extra_info.update({"answers": dict(answers), "statuses": statuses,
                                 "rounds_s": [round(s, 3) for s in spans]})
    print(f"\n{engine.dialect.name}: {[round(s, 3) for s in spans]} s, answers {dict(answers)}, "
          f"statuses {statuses}")
    assert answers["duplicate"] >= EVENTS // 25 and answers["applied"] > EVENTS * 0.9
    assert statuses.get("bounced", 0) > 0 and statuses.get("unsubscribed", 0) > 0
    assert max(spans[1:]) < 1.0, spans
