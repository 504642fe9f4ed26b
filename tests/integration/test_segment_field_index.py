"""Previews of rules on fields can be served by an index on the field's value.

Such an index is on the expression the rule compiles to (typed, text in the form it compares), so
the statement must name the field's path as written (not a bound parameter, which SQLite cannot
match) and test it bare where it stands alone (NULL selects nothing there; a `coalesce(..)` to
keep it two-valued would hide it from the index). Counts stay those of the rules; see
test_segment_rules.py for missing values under negation.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from segments.collapse import Audience, _preview_query
from segments.compiler import RuleCompiler
from segments.field_indexes import FieldIndex, drop
from segments.rules import Catalog, parse_rules
from service.domain.field_indexes import changing_indexes

FIELDS = {"city": "text", "points": "number", "birth_date": "date"}


def _index(account_id: int, name: str, dialect: str) -> str:
    """The name of the index the service makes on the field (segments/field_indexes.py)."""
    return FieldIndex.of(account_id, name, FIELDS[name], dialect).name


def _plan(conn, account_id: int, rules: dict, index: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """The preview statement's plan; on SQLite with `index` the statement must use that index
    (`INDEXED BY`: SQLite refuses the statement if the index cannot serve it)."""
    catalog = Catalog(FIELDS, {})
    audience = Audience(account_id, "external_id", RuleCompiler(catalog, datetime(2026, 12, 2, tzinfo=UTC)),
                        (parse_rules(rules, catalog),))
    statement = str(_preview_query(audience).compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement.replace("%", "%%")))
    if index:
        assert statement.count("FROM contacts AS c ") == 1, statement
        statement = statement.replace("FROM contacts AS c ", f"FROM contacts AS c INDEXED BY {index} ")
    return "\n".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement))


@pytest.fixture
def indexed(engine, make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant("indexed", "external_id", fields=FIELDS)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        if dialect == "postgresql":
            # Enough contacts, with statistics, for the planner to prefer an index for one city.
            conn.execute(text(
                "INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, attributes, "
                "created_at, updated_at) SELECT :a, 'external_id', 'c' || i || '@example.org', "
                "'c' || i || '@example.org', 'active', jsonb_build_object('city', 'City ' || i, "
                "'points', i, 'birth_date', '2000-01-01'), now(), now() FROM generate_series(1, 5000) i"),
                {"a": tenant.id})
    with changing_indexes(engine) as conn:
        for name, kind in FIELDS.items():
            conn.exec_driver_sql(FieldIndex.of(tenant.id, name, kind, dialect).create(dialect))
        conn.exec_driver_sql("ANALYZE contacts" if dialect == "postgresql" else "SELECT 1")
    engine.dispose()  # SQLite: a pooled connection would EXPLAIN with the schema it read before
    yield tenant
    with changing_indexes(engine) as conn:
        for name in FIELDS:
            conn.exec_driver_sql(drop(_index(tenant.id, name, dialect), dialect))


def test_rules_on_fields_can_use_an_index_on_the_value(engine, indexed):  # type: ignore[no-untyped-def]
    city = {"field": "city", "op": "eq", "value": "City 7"}
    served = [
        (city, "city"),
        ({"field": "city", "op": "in", "value": ["City 7", "City 8"]}, "city"),
        ({"field": "points", "op": "between", "value": [100, 110]}, "points"),
        ({"field": "birth_date", "op": "within_last_days", "value": 30}, "birth_date"),
        ({"all": [city, {"field": "points", "op": "gte", "value": 1}]}, "city"),
    ]
    with engine.connect() as conn:
        for rules, name in served:
            index = _index(indexed.id, name, engine.dialect.name)
            plan = _plan(conn, indexed.id, rules, index)
            assert _searched(plan, index), (rules, plan)


def _searched(plan: str, index: str) -> bool:
    """The plan looks contacts up in the field's index by value (not merely walks all of it)."""
    if "SEARCH c USING INDEX" in plan:  # SQLite
        return f"SEARCH c USING INDEX {index} (<expr>" in plan
    return index in plan and "Index Cond" in plan


def test_a_test_below_not_stays_two_valued(engine, indexed):  # type: ignore[no-untyped-def]
    """A contact without a city is "not in City 7": there the test cannot be read from the index."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite says so for certain (INDEXED BY)")
    with engine.connect() as conn:
        index = _index(indexed.id, "city", "sqlite")
        plan = _plan(conn, indexed.id, {"not": {"field": "city", "op": "eq", "value": "City 7"}}, index)
    assert not _searched(plan, index), plan


def test_sqlite_reads_an_open_range_by_scanning(engine, indexed):  # type: ignore[no-untyped-def]
    """Without statistics SQLite takes any range as narrow; an open one is usually most contacts."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL weighs ranges by its statistics")
    with engine.connect() as conn:
        for rules in ({"field": "birth_date", "op": "more_than_days_ago", "value": 40 * 365},
                      {"field": "points", "op": "gt", "value": 10}):
            plan = _plan(conn, indexed.id, rules)
            assert "ix_field_" not in plan and "SCAN c\n" in plan, (rules, plan)
