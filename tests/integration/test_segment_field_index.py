"""Previews of rules on fields can be served by an index on the field's value.

PostgreSQL: such an index is on the expression the rule compiles to (typed, text in the form it
compares), so the statement must name the field's path as written (not a bound parameter, which
the planner cannot match) and test it bare where it stands alone (NULL selects nothing there; a
`coalesce(..)` to keep it two-valued would hide it from the index).

SQLite: the field's value is a generated column, indexed in the order of the account's addresses;
a preview of a rule on that field is one pass over that index, grouping by address as it goes
(no temporary b-tree, no other lookup). Counts stay those of the rules; see test_segment_rules.py
for missing values under negation and test_field_indexes.py for the same answers with and without.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from segments.collapse import Audience, _preview_query
from segments.compiler import RuleCompiler
from segments.field_indexes import FieldIndex, drop, indexed_columns
from segments.rules import Catalog, mentions_status, parse_rules
from service.domain.field_indexes import build, changing_indexes, field_columns

FIELDS = {"city": "text", "points": "number", "birth_date": "date"}


def _index(account_id: int, name: str, dialect: str) -> str:
    """The name of the index the service makes on the field (segments/field_indexes.py)."""
    return FieldIndex.of(account_id, name, FIELDS[name], dialect).name


def _plan(conn, account_id: int, rules: dict) -> str:  # type: ignore[no-untyped-def]
    """The preview statement's plan, compiled as the service compiles it (with the field columns
    that have their index, on SQLite)."""
    catalog = Catalog(FIELDS, {})
    compiler = RuleCompiler(catalog, datetime(2026, 12, 2, tzinfo=UTC), indexed_columns(conn, FIELDS))
    rule = parse_rules(rules, catalog)
    audience = Audience(account_id, "external_id", compiler, (rule,), status_ruled=mentions_status(rule))
    statement = str(_preview_query(audience, conn.dialect.name).compile(
        conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement.replace("%", "%%")))
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
        columns = field_columns(conn)
        for name, kind in FIELDS.items():
            build(conn, FieldIndex.of(tenant.id, name, kind, dialect), columns)
        conn.exec_driver_sql("ANALYZE contacts" if dialect == "postgresql" else "SELECT 1")
    engine.dispose()  # SQLite: a pooled connection would EXPLAIN with the schema it read before
    yield tenant
    with changing_indexes(engine) as conn:
        for name in FIELDS:
            conn.exec_driver_sql(drop(_index(tenant.id, name, dialect), dialect))


def test_postgresql_looks_values_up_in_the_field_index(engine, indexed):  # type: ignore[no-untyped-def]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's field indexes are in address order (the tests below)")
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
            plan = _plan(conn, indexed.id, rules)
            assert index in plan and "Index Cond" in plan, (rules, plan)


ONE_FIELD = [
    ({"field": "city", "op": "eq", "value": "City 7"}, "city"),
    ({"field": "city", "op": "in", "value": ["City 7", "City 8"]}, "city"),
    ({"not": {"field": "city", "op": "eq", "value": "City 7"}}, "city"),
    ({"field": "city", "op": "contains", "value": "7"}, "city"),
    ({"any": [{"field": "city", "op": "starts_with", "value": "C"},
              {"field": "city", "op": "is_empty"}]}, "city"),
    ({"field": "points", "op": "between", "value": [100, 110]}, "points"),
    ({"field": "points", "op": "gt", "value": 10}, "points"),
    ({"field": "birth_date", "op": "more_than_days_ago", "value": 40 * 365}, "birth_date"),
]


def _walks(plan: str, index: str) -> bool:
    """SQLite counts in one walk of `index` from the account's first entry, grouping as it goes:
    no sort, no other table or index read. (SQLite calls an index covering only for table columns.)"""
    steps = plan.replace("COVERING INDEX", "INDEX").splitlines()
    return steps == ["CO-ROUTINE per_address", f"SEARCH c USING INDEX {index} (account_id=?)",
                     "SCAN per_address"]


@pytest.mark.parametrize(("rules", "name"), ONE_FIELD, ids=[str(rules) for rules, _ in ONE_FIELD])
def test_sqlite_counts_a_rule_on_one_field_in_one_pass_over_its_index(engine, indexed, rules, name
                                                                       ):  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL looks values up in its field indexes (the test above)")
    with engine.connect() as conn:
        plan = _plan(conn, indexed.id, rules)
    assert _walks(plan, _index(indexed.id, name, "sqlite")), plan


def test_sqlite_counts_rules_on_two_fields_from_the_matching_contacts(engine, indexed
                                                                      ):  # type: ignore[no-untyped-def]
    """No one index holds both values: the matching contacts are grouped by address instead."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    rules = {"all": [{"field": "city", "op": "eq", "value": "City 7"},
                     {"field": "points", "op": "gte", "value": 1}]}
    with engine.connect() as conn:
        plan = _plan(conn, indexed.id, rules)
    assert "USE TEMP B-TREE FOR GROUP BY" in plan and "per_slot" in plan, plan


def test_sqlite_counts_rules_on_the_status_in_one_pass_over_the_address_index(engine, indexed
                                                                              ):  # type: ignore[no-untyped-def]
    """Each group of an address sees whether it bounced: the status that counts needs no lookup."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    for rules in ({"field": "status", "op": "eq", "value": "active"},
                  {"any": [{"field": "status", "op": "in", "value": ["bounced", "unsubscribed"]},
                           {"field": "email_domain", "op": "eq", "value": "example.org"}]}):
        with engine.connect() as conn:
            plan = _plan(conn, indexed.id, rules)
        assert _walks(plan, "ix_contacts_account_address_status"), (rules, plan)


def test_sqlite_counts_a_status_and_a_field_in_one_pass_over_the_fields_index(engine, indexed
                                                                              ):  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    rules = {"all": [{"field": "status", "op": "eq", "value": "active"},
                     {"field": "city", "op": "eq", "value": "City 7"}]}
    with engine.connect() as conn:
        plan = _plan(conn, indexed.id, rules)
    assert _walks(plan, _index(indexed.id, "city", "sqlite")), plan
