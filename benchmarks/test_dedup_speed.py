"""Changing the dedup rule of the 1M-contact benchmark account (about 48,000 shared addresses).

Targets (issue 5): preview at most 3 s, apply at most 30 s, undo at most 30 s, on SQLite and
PostgreSQL. The tests run in file order on one loaded database: apply merges, undo puts the
account back exactly as it was (so the loaded database stays reusable).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from service.db import make_engine
from service.domain import dedup_change
from service.models import Account

state: dict[str, dict] = {}


class Loaded:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        with Session(self.engine, expire_on_commit=False) as session:
            self.account = session.exec(select(Account).where(Account.name == "bench")).one()

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM contacts WHERE account_id = :a"),
                                {"a": self.account.id}).scalar_one()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    url = request.getfixturevalue(f"loaded_{'postgres' if request.param == 'postgresql' else 'sqlite'}")
    loaded = Loaded(url)
    assert loaded.account.dedup_mode == "external_id", "a run before left the account changed"
    state[request.param] = {"before": loaded.count()}
    yield loaded
    loaded.engine.dispose()


def _dialect(loaded: Loaded) -> str:
    return loaded.engine.dialect.name


def test_preview_to_email(benchmark, loaded):  # type: ignore[no-untyped-def]
    def run() -> dict:
        with Session(loaded.engine) as session:
            return dedup_change.preview(session, loaded.account, to="email")

    impact = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert impact["contacts_before"] == state[_dialect(loaded)]["before"]
    assert impact["shared_addresses"] > 40_000
    state[_dialect(loaded)]["impact"] = impact
    benchmark.extra_info.update({k: impact[k] for k in ("shared_addresses", "merged_away", "contacts_after")})


def test_apply(benchmark, loaded):  # type: ignore[no-untyped-def]
    def run() -> dict:
        with Session(loaded.engine, expire_on_commit=False) as session:
            return dedup_change.apply(loaded.engine, session, loaded.account, to="email")

    change = benchmark.pedantic(run, rounds=1)
    expected = state[_dialect(loaded)]["impact"]
    assert change["merged"] == expected["merged_away"]
    assert loaded.count() == expected["contacts_after"]
    state[_dialect(loaded)]["change"] = change["change_id"]
    benchmark.extra_info["merged"] = change["merged"]


def test_undo(benchmark, loaded):  # type: ignore[no-untyped-def]
    change_id = state[_dialect(loaded)]["change"]
    undone = benchmark.pedantic(lambda: dedup_change.undo(loaded.engine, loaded.account, change_id), rounds=1)
    assert undone["restored"] == state[_dialect(loaded)]["impact"]["merged_away"]
    assert loaded.count() == state[_dialect(loaded)]["before"]
    benchmark.extra_info["restored"] = undone["restored"]
