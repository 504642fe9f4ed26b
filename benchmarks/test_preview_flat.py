"""Previews on fields against the same counts over flat columns (issue 14: at most 2 times).

The loaded account's contacts are copied once into `preview_flat` (address key, status and one
typed column per field, indexed as the contacts are: by address and status, bounced addresses
apart), and the preview's counts (contacts, excluded, addresses, the shared buckets) are made
over it for the same conditions, in the same statement shape as `segments.collapse`. The
segment engine's own preview of each condition runs beside it, so that the ratio of the two is
measured in the same minutes; both must give the same counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Engine,
    Float,
    String,
    and_,
    case,
    column,
    exists,
    func,
    select,
    table,
    text,
    true,
)
from sqlalchemy.sql import ColumnElement

from benchmarks.test_send_speed import SEGMENTS
from segments.collapse import Audience, Preview, preview
from segments.compiler import RuleCompiler
from segments.field_indexes import FieldIndex, drop, indexed_columns, searched_fields
from segments.rules import Catalog, mentions_status, parse_rules
from service.db import make_engine
from service.domain.field_indexes import build, changing_indexes, field_columns

# "Today" for the relative date rule, fixed so that both sides count the same contacts.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

flat = table(
    "preview_flat",
    column("address_key", String),
    column("status", String),
    column("city", String),
    column("points", Float),
    column("birth_date", String),
    column("newsletter", Boolean),
)


def _bounced_here(f: Any) -> ColumnElement[bool]:
    other = flat.alias("fb")
    return exists(select(1).select_from(other).where(other.c.address_key == f.c.address_key,
                                                     other.c.status == "bounced"))


# The conditions of benchmarks/test_send_speed.py's segments, on the flat columns (text stored
# lower-cased, as the rules compare it).
CONDITIONS: dict[str, Any] = {
    "everyone": lambda f: true(),
    "text_eq": lambda f: f.c.city == "utrecht",
    "text_in_five": lambda f: f.c.city.in_(["amsterdam", "rotterdam", "utrecht", "den haag", "eindhoven"]),
    "number_between": lambda f: f.c.points.between(100, 500),
    "date_relative": lambda f: f.c.birth_date < (NOW.date() - timedelta(days=40 * 365)).isoformat(),
    "status_and_boolean": lambda f: and_(f.c.status == "active", ~_bounced_here(f), f.c.newsletter == true()),
}
STATUS_RULED = {"status_and_boolean"}


def flat_query(kind: str) -> Any:
    """The preview's counts over the flat table, shaped as `segments.collapse._preview_query`."""
    f = flat.alias("f")
    status_ruled = kind in STATUS_RULED
    active = true() if status_ruled else f.c.status == "active"
    per_address = (select(f.c.address_key, func.sum(case((active, 1), else_=0)).label("n"),
                          func.count().label("m"))
                   .where(CONDITIONS[kind](f)).group_by(f.c.address_key)).subquery("per_address")
    n: Any = per_address.c.n
    source: Any = per_address
    if not status_ruled:
        b = flat.alias("b")
        bounced = select(b.c.address_key).distinct().where(b.c.status == "bounced").subquery("bounced")
        source = per_address.outerjoin(bounced, bounced.c.address_key == per_address.c.address_key)
        n = case((bounced.c.address_key.is_not(None), 0), else_=n)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    return select(func.sum(n), func.sum(per_address.c.m) - func.sum(n), count(n > 0),
                  count(n == 2), count(n == 3), count(n >= 4)).select_from(source)


def flat_counts(engine: Engine, kind: str) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(flat_query(kind)).one()
    contacts_, excluded, addresses, two, three, more = (int(v or 0) for v in row)
    return {"contacts": contacts_, "excluded": excluded, "addresses": addresses,
            "2": two, "3": three, "4+": more}


def engine_counts(result: Preview) -> dict[str, int]:
    return {"contacts": result.contacts, "excluded": result.excluded, "addresses": result.addresses,
            **result.shared}


@dataclass
class Loaded:
    engine: Engine
    account_id: int
    dedup_mode: str
    catalog: Catalog

    def audience(self, kind: str) -> Audience:
        """The segment's audience, compiled as the service compiles it: with the field columns
        that have their index (SQLite)."""
        rule = parse_rules(SEGMENTS[kind], self.catalog)
        with self.engine.connect() as conn:
            columns = indexed_columns(conn, self.catalog.fields)
        return Audience(self.account_id, self.dedup_mode, RuleCompiler(self.catalog, NOW, columns), (rule,),
                        status_ruled=mentions_status(rule))

    def field_indexes(self) -> list[FieldIndex]:
        """The field indexes that saved segments of these conditions would have the workers build."""
        dialect = self.engine.dialect.name
        wanted = {FieldIndex.of(self.account_id, name, kind, dialect)
                  for segment in CONDITIONS
                  for name, kind in searched_fields(parse_rules(SEGMENTS[segment], self.catalog),
                                                    self.catalog.fields, dialect)}
        return sorted(wanted, key=lambda index: index.name)


def _build(loaded: Loaded, indexes: list[FieldIndex]) -> None:
    with changing_indexes(loaded.engine) as conn:
        columns = field_columns(conn)
        for index in indexes:
            build(conn, index, columns)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE contacts")


def _copy_once(engine: Engine, account_id: int) -> None:
    """Make `preview_flat` from the account's contacts, unless it holds them already."""
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM contacts WHERE account_id = :a"),
                            {"a": account_id}).scalar_one()
        try:
            copied = conn.execute(text("SELECT count(*) FROM preview_flat")).scalar_one()
        except Exception:  # noqa: BLE001  (no such table yet: the first run makes it)
            conn.rollback()
            copied = -1
    if copied == have:
        return
    pg = engine.dialect.name == "postgresql"
    if pg:
        fields = ("lower(attributes->>'city')", "(attributes->>'points')::float8",
                  "attributes->>'birth_date'", "(attributes->>'newsletter')::boolean")
        floats, bools = "double precision", "boolean"
    else:
        fields = ("lower(attributes->>'$.city')", "attributes->>'$.points'",
                  "attributes->>'$.birth_date'", "attributes->>'$.newsletter'")
        floats, bools = "REAL", "BOOLEAN"
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS preview_flat"))
        conn.execute(text(f"CREATE TABLE preview_flat (address_key VARCHAR NOT NULL, "
                          f"status VARCHAR NOT NULL, city VARCHAR, points {floats}, birth_date VARCHAR, "
                          f"newsletter {bools})"))
        conn.execute(text(f"INSERT INTO preview_flat SELECT address_key, status, {', '.join(fields)} "
                          f"FROM contacts WHERE account_id = :a ORDER BY id"), {"a": account_id})
        conn.execute(text("CREATE INDEX ix_preview_flat_address_status "
                          "ON preview_flat (address_key, status)"))
        conn.execute(text("CREATE INDEX ix_preview_flat_bounced ON preview_flat (address_key) "
                          "WHERE status = 'bounced'"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE preview_flat" if pg else "ANALYZE"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    url = request.getfixturevalue(f"loaded_{'postgres' if request.param == 'postgresql' else 'sqlite'}")
    engine = make_engine(url)
    with engine.connect() as conn:
        account_id, dedup_mode = conn.execute(
            text("SELECT id, dedup_mode FROM accounts WHERE name = 'bench'")).one()
        fields = {name: kind for name, kind in conn.execute(
            text("SELECT name, type FROM fields WHERE account_id = :a"), {"a": account_id})}
        links = {name: link_id for name, link_id in conn.execute(
            text("SELECT name, id FROM links WHERE account_id = :a"), {"a": account_id})}
    _copy_once(engine, account_id)
    loaded = Loaded(engine, account_id, dedup_mode, Catalog(fields, links))
    # BENCH_FIELD_INDEXES=0: the engine's previews without them (to compare).
    indexes = loaded.field_indexes() if os.environ.get("BENCH_FIELD_INDEXES", "1") != "0" else []
    _build(loaded, indexes)
    engine.dispose()  # SQLite: pooled connections would plan with the schema they read before
    yield loaded
    with changing_indexes(engine) as conn:  # the loaded database is shared with other runs
        for index in indexes:
            conn.exec_driver_sql(drop(index.name, engine.dialect.name))
    engine.dispose()


@pytest.mark.parametrize("kind", list(CONDITIONS))
@pytest.mark.parametrize("source", ["fields", "flat"])
def test_preview_against_flat_columns(benchmark, loaded, source, kind):  # type: ignore[no-untyped-def]
    """`fields`: the segment engine's preview; `flat`: the same counts over the flat table."""
    audience = loaded.audience(kind)

    def run() -> dict[str, int]:
        if source == "flat":
            return flat_counts(loaded.engine, kind)
        with loaded.engine.connect() as conn:
            return engine_counts(preview(conn, audience))

    counts = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    other = (lambda: flat_counts(loaded.engine, kind)) if source == "fields" else None
    if other is None:
        with loaded.engine.connect() as conn:
            assert counts == engine_counts(preview(conn, audience))
    else:
        assert counts == other()
    benchmark.extra_info["counts"] = counts
