"""Segments, send lists and the pre-send check at the stated size: the 1M-row benchmark account.

Targets (issue 3), on 1,000,000 contacts: a segment preview in at most 1.0 s on SQLite and
0.7 s on PostgreSQL; the CSV send list of the whole account in at most 6 s; a check of 10,000
contacts in at most 150 ms and of 1,000 in at most 25 ms (median, PostgreSQL, through the
Flask test client). The load run (8 clients x 100 batches of 1,000 overlapping contacts against
`safeguard serve` on PostgreSQL) reports its throughput and asserts that no address was cleared
twice. Run with `make bench`.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from segments.field_indexes import drop, present
from service import background, create_app
from service.domain.api_keys import create_key
from service.domain.field_indexes import changing_indexes, reconcile
from service.models import Account

# One segment per kind of rule, each planned differently (see benchmarks/README.md).
SEGMENTS = {
    "everyone": {"all": []},
    "text_eq": {"all": [{"field": "city", "op": "eq", "value": "Utrecht"}]},
    "text_in_five": {"all": [{"field": "city", "op": "in",
                              "value": ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven"]}]},
    "number_between": {"all": [{"field": "points", "op": "between", "value": [100, 500]}]},
    "date_relative": {"all": [{"field": "birth_date", "op": "more_than_days_ago", "value": 40 * 365}]},
    "email_domain": {"all": [{"field": "email_domain", "op": "in", "value": ["gmail.com", "ziggo.nl"]}]},
    "external_id": {"all": [{"field": "external_id.crm", "op": "starts_with", "value": "1"}]},
    "status_and_boolean": {"all": [{"field": "status", "op": "eq", "value": "active"},
                                   {"field": "newsletter", "op": "eq", "value": True}]},
}


class Api:
    """The Flask test client with the benchmark account's keys."""

    def __init__(self, url: str) -> None:
        self.app = create_app({"DATABASE_URL": url, "TESTING": True})
        self.segments: list[int] = []
        # BENCH_FIELD_INDEXES=0: previews without them (to compare).
        self.field_indexes = os.environ.get("BENCH_FIELD_INDEXES", "1") != "0"
        self.client = self.app.test_client()
        engine = self.app.extensions["safeguard.engine"]
        with Session(engine, expire_on_commit=False) as session:
            self.account = session.exec(select(Account).where(Account.name == "bench")).one()
            self.manage, self.send = (
                {"Authorization": f"Bearer {create_key(session, account=self.account, scope=scope)}"}
                for scope in ("manage", "send"))
        with engine.connect() as conn:
            self.contact_ids = list(conn.execute(
                text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id"),
                {"a": self.account.id}).scalars())

    def post(self, path: str, body: dict, headers: dict) -> dict:
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.json
        return response.json

    def segment(self, rules: dict) -> int:
        """Save a segment, and index its fields as the workers would (segments/field_indexes.py)."""
        # The loaded database is kept between runs, so names are made unique.
        segment_id = self.post("/api/v1/segments", {"name": f"bench-{uuid.uuid4().hex[:8]}", "rules": rules},
                               self.manage)["id"]
        self.segments.append(segment_id)
        if self.field_indexes:
            reconcile(self.app.extensions["safeguard.engine"])
        return segment_id

    def mailing(self, segment_id: int) -> int:
        return self.post("/api/v1/mailings", {"name": f"bench-{uuid.uuid4().hex[:8]}",
                                              "include": [segment_id]}, self.manage)["id"]

    def close(self) -> None:
        """Remove the segments saved here (not those a mailing uses) and every field index: the
        loaded database is shared with other runs, older code's too (and the segments of those,
        never removed, would keep indexes that the older code's runs then read)."""
        for segment_id in self.segments:
            self.client.delete(f"/api/v1/segments/{segment_id}", headers=self.manage)
        engine = self.app.extensions["safeguard.engine"]
        with changing_indexes(engine) as conn:
            for name in present(conn):
                conn.exec_driver_sql(drop(name, engine.dialect.name))
        background.shutdown(self.app)
        self.app.extensions["safeguard.engine"].dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    url = request.getfixturevalue(f"loaded_{'postgres' if request.param == 'postgresql' else 'sqlite'}")
    api = Api(url)
    yield api
    api.close()


@pytest.mark.parametrize("kind", list(SEGMENTS))
def test_segment_preview(benchmark, api, kind):  # type: ignore[no-untyped-def]
    segment_id = api.segment(SEGMENTS[kind])

    def run() -> dict:
        response = api.client.get(f"/api/v1/segments/{segment_id}/preview", headers=api.manage)
        assert response.status_code == 200, response.json
        return response.json

    preview = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert preview["contacts"] + preview["excluded"] > 0
    assert preview["recipients"] == preview["addresses"] <= preview["contacts"]
    benchmark.extra_info["preview"] = preview


def test_send_list_csv_of_the_whole_account(benchmark, api):  # type: ignore[no-untyped-def]
    segment_id = api.segment(SEGMENTS["everyone"])

    def run() -> int:
        response = api.client.get(f"/api/v1/segments/{segment_id}/recipients?format=csv",
                                  headers=api.manage)
        assert response.status_code == 200
        return response.get_data().count(b"\n") - 1  # minus the header

    rows = benchmark.pedantic(run, rounds=1)
    preview = api.client.get(f"/api/v1/segments/{segment_id}/preview", headers=api.manage).json
    assert rows == preview["recipients"]
    benchmark.extra_info["recipients"] = rows


@pytest.mark.parametrize("size,rounds", [(10_000, 15), (1_000, 50)])
def test_check(benchmark, api, size, rounds):  # type: ignore[no-untyped-def]
    """Each round checks fresh contacts (the next ids), so every round claims as a first send would."""
    mailing_id = api.mailing(api.segment(SEGMENTS["everyone"]))
    batches = (api.contact_ids[i:i + size] for i in itertools.count(0, size))
    verdicts: dict[str, int] = {}

    def setup():  # type: ignore[no-untyped-def]
        return (next(batches),), {}

    def run(batch: list[int]) -> None:
        results = api.post(f"/api/v1/mailings/{mailing_id}/check", {"contacts": batch}, api.send)["results"]
        assert len(results) == len(batch)
        for result in results:
            key = result.get("reason", "send")
            verdicts[key] = verdicts.get(key, 0) + 1

    benchmark.pedantic(run, setup=setup, rounds=rounds, warmup_rounds=1)
    assert verdicts["send"] > 0.8 * sum(verdicts.values())
    benchmark.extra_info["verdicts"] = verdicts
