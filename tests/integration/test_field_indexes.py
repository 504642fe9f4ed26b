"""Field indexes follow the saved segments, and never change whom a rule reaches.

`reconcile` builds an index on each field that a saved segment tests where an index can answer,
and drops the ones no segment wants any more; the worker does it in the background after a
segment changes. Every rule below reaches the same contacts, and the same counts, with and without
the indexes (values in other cases, a Kelvin sign, missing values, numbers, dates and booleans).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlmodel import Session

from segments.collapse import _preview_query
from segments.collapse import preview as preview_counts
from segments.field_indexes import FieldIndex, present
from service import background, create_app
from service.domain.field_indexes import Reconciled, reconcile
from service.domain.segments import segment_audience
from service.models import Account, Segment
from service.worker import KEEP_EVERY
from tests.integration.segment_helpers import drop_field_indexes, new_segment, preview, recipients

FIELDS = {"city": "text", "points": "number", "born": "date", "vip": "boolean", "note": "text"}
MAPPING = {"mapping": {"E-mail": "email", "Stad": "city", "Punten": "points", "Geboren": "born",
                       "VIP": "vip", "Notitie": "note"}}
ROWS = [
    ["E-mail", "Stad", "Punten", "Geboren", "VIP", "Notitie"],
    ["a@example.nl", "Kampen", "12", "1990-05-17", "ja", "x"],
    ["b@example.nl", "KAMPEN", "2,5", "1985-12-31", "nee", ""],
    ["c@example.nl", "\u212aampen", "0", "2000-01-01", "", "y"],  # lower() makes it "kampen"
    ["d@example.nl", "Utrecht", "-3", "", "ja", ""],
    ["e@example.nl", "", "1000", "1990-05-18", "nee", "x"],
    ["f@example.nl", "utrecht", "", "", "", ""],
    ["g@example.nl", "Zwolle", "7", "1970-01-01", "ja", ""],
]

# Each rule, and the indexes (field, kind) that a segment of it wants on each database: on
# PostgreSQL where an index can look the values up, on SQLite wherever a field is tested (a pass
# over the field's index in address order answers any test of it).
RULES: list[tuple[dict, dict[str, set[tuple[str, str]]]]] = [
    ({"field": "city", "op": "eq", "value": "kampen"}, {"both": {("city", "text")}}),
    ({"field": "city", "op": "in", "value": ["Utrecht", "Zwolle"]}, {"both": {("city", "text")}}),
    ({"field": "points", "op": "between", "value": [0, 12]}, {"both": {("points", "number")}}),
    ({"field": "points", "op": "gt", "value": 5}, {"both": {("points", "number")}}),
    ({"field": "born", "op": "more_than_years_ago", "value": 30}, {"both": {("born", "date")}}),
    ({"field": "born", "op": "eq", "value": "1990-05-17"}, {"both": {("born", "date")}}),
    ({"field": "vip", "op": "eq", "value": True}, {"both": {("vip", "boolean")}}),
    ({"not": {"field": "city", "op": "eq", "value": "Kampen"}}, {"sqlite": {("city", "text")}}),
    ({"field": "city", "op": "ne", "value": "Kampen"}, {"sqlite": {("city", "text")}}),
    ({"field": "note", "op": "contains", "value": "x"}, {"sqlite": {("note", "text")}}),
    ({"field": "born", "op": "is_empty"}, {"sqlite": {("born", "date")}}),
    ({"any": [{"field": "city", "op": "eq", "value": "Utrecht"},
              {"field": "note", "op": "eq", "value": "x"}]},
     {"both": {("city", "text"), ("note", "text")}}),
    ({"all": [{"field": "vip", "op": "eq", "value": False},
              {"not": {"field": "note", "op": "eq", "value": "x"}}]},
     {"both": {("vip", "boolean")}, "sqlite": {("note", "text")}}),
]


def _wanted(dialect: str, wants: dict[str, set[tuple[str, str]]]) -> set[tuple[str, str]]:
    return wants.get("both", set()) | wants.get(dialect, set())


@pytest.fixture(autouse=True)
def no_field_indexes(engine):  # type: ignore[no-untyped-def]
    """None before and after (segment_helpers.drop_field_indexes)."""
    drop_field_indexes(engine)
    yield
    drop_field_indexes(engine)


@pytest.fixture
def shop(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    tenant = make_tenant("shop", "email", fields=FIELDS)
    job = import_rows(tenant, ROWS, MAPPING)
    assert job["report"]["rejected"] == 0, job["report"]
    return tenant


def _reach(client, tenant, segment_id: int) -> tuple[dict, list[str]]:  # type: ignore[no-untyped-def]
    found = recipients(client, tenant, segment_id, allow_shared_address=True)
    return preview(client, tenant, segment_id), sorted(c["email"] for c in found)


def test_each_rule_wants_the_indexes_it_can_use(client, engine, shop):  # type: ignore[no-untyped-def]
    dialect = engine.dialect.name
    for rules, wants in RULES:
        segment_id = new_segment(client, shop, rules)
        expected = {FieldIndex.of(shop.id, name, kind, dialect).name
                    for name, kind in _wanted(dialect, wants)}
        assert set(reconcile(engine).built) == expected, rules
        with engine.connect() as conn:
            assert present(conn) == dict.fromkeys(expected, True), rules
        assert reconcile(engine) == Reconciled(), "nothing left to do"
        assert client.delete(f"/api/v1/segments/{segment_id}", headers=shop.auth()).status_code == 204
        assert set(reconcile(engine).dropped) == expected, rules
        with engine.connect() as conn:
            assert present(conn) == {}


def test_the_indexes_change_no_answer(client, engine, shop):  # type: ignore[no-untyped-def]
    segments = [new_segment(client, shop, rules) for rules, _ in RULES]
    before = [_reach(client, shop, segment_id) for segment_id in segments]
    built = reconcile(engine).built
    assert len(built) >= 5, built
    after = [_reach(client, shop, segment_id) for segment_id in segments]
    assert after == before
    # The cases do reach someone: a rule that matched nobody would compare nothing.
    kampen = before[0][1]
    assert kampen == ["a@example.nl", "b@example.nl", "c@example.nl"], before[0]


def test_a_preview_reads_the_index(client, engine, shop):  # type: ignore[no-untyped-def]
    """The preview's statement, with its parameters bound as the engine binds them, finds the
    contacts through the field's index (on PostgreSQL among enough contacts to make it worth it)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, attributes, "
                "created_at, updated_at) SELECT :a, 'email', 'c' || i || '@example.org', "
                "'c' || i || '@example.org', 'active', jsonb_build_object('city', 'City ' || i), "
                "now(), now() FROM generate_series(1, 5000) i"), {"a": shop.id})
    segment_id = new_segment(client, shop, {"field": "city", "op": "in", "value": ["Kampen", "Zwolle"]})
    (name,) = reconcile(engine).built
    with Session(engine) as session:
        audience = segment_audience(session, session.get(Account, shop.id), session.get(Segment, segment_id))
    compiled = _preview_query(audience, engine.dialect.name).compile(
        engine, compile_kwargs={"render_postcompile": True})
    # A SQLite connection opened before the index was made plans an EXPLAIN with the schema it read
    # then (a statement that runs reads the new schema first).
    engine.dispose()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            bound = tuple(compiled.params[key] for key in compiled.positiontup or ())
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, bound)]
        else:
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params)]
    assert any(name in line for line in plan), plan


def test_the_worker_follows_segment_changes(database_url, tmp_path, shop):  # type: ignore[no-untyped-def]
    """Saved or removed through the API, a segment's index is built or dropped within moments (the
    request wakes its process's worker; the minute's round is for changes made elsewhere)."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "RUN_WORKER": True,
                      "UPLOAD_DIR": str(tmp_path / "uploads"), "FIELD_INDEXES": True})
    engine, client = app.extensions["safeguard.engine"], app.test_client()
    try:
        name = FieldIndex.of(shop.id, "city", "text", engine.dialect.name).name
        started = time.monotonic()
        segment_id = new_segment(client, shop, {"field": "city", "op": "eq", "value": "Kampen"})
        assert _eventually(engine, lambda have: name in have), "built after the segment was saved"
        assert client.delete(f"/api/v1/segments/{segment_id}", headers=shop.auth()).status_code == 204
        assert _eventually(engine, lambda have: name not in have), "dropped after it was removed"
        assert time.monotonic() - started < KEEP_EVERY
    finally:
        background.shutdown(app)
        engine.dispose()


def _eventually(engine, test, seconds: float = 15) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if test(present(conn)):
                return True
        time.sleep(0.1)
    return False


def test_a_build_that_fails_leaves_no_index(engine, client, shop):  # type: ignore[no-untyped-def]
    """A number field holding text (written around the service) cannot be indexed as numbers:
    PostgreSQL refuses the build, which must leave no invalid index behind."""
    with engine.begin() as conn:
        changed = ("json_set(attributes, '$.points', 'veel')" if engine.dialect.name == "sqlite"
                   else "jsonb_set(attributes, '{points}', '\"veel\"')")
        conn.execute(text(f"UPDATE contacts SET attributes = {changed} "
                          "WHERE account_id = :a AND email = 'a@example.nl'"), {"a": shop.id})
    new_segment(client, shop, {"field": "points", "op": "between", "value": [0, 12]})
    name = FieldIndex.of(shop.id, "points", "number", engine.dialect.name).name
    done = reconcile(engine)
    if engine.dialect.name == "sqlite":  # its CAST makes 0 of such text: the build succeeds
        assert done.built == [name], done
        return
    assert list(done.failed) == [name] and "veel" in done.failed[name], done
    with engine.connect() as conn:
        assert present(conn) == {}
    assert reconcile(engine, avoid=frozenset({name})) == Reconciled(), "not tried again while avoided"


def test_the_command_builds_and_reports(cli, client, engine, shop):  # type: ignore[no-untyped-def]
    new_segment(client, shop, {"field": "vip", "op": "eq", "value": True})
    result = cli("segments", "indexes")
    assert result.exit_code == 0, result.output
    assert result.output == f"built {FieldIndex.of(shop.id, 'vip', 'boolean', engine.dialect.name).name}\n"
    again = cli("segments", "indexes")
    assert again.output == "the field indexes are up to date\n"


def test_sqlite_keeps_a_field_column_when_its_index_goes(client, engine, shop):  # type: ignore[no-untyped-def]
    """A preview compiled to walk the field's index still counts after the index is dropped under
    it (the workers drop it once no segment wants it): without the index, from the column."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL indexes the value's expression: no column")
    segment_id = new_segment(client, shop, {"field": "city", "op": "eq", "value": "Kampen"})
    (name,) = reconcile(engine).built
    with Session(engine) as session:
        audience = segment_audience(session, session.get(Account, shop.id), session.get(Segment, segment_id))
    assert audience.compiler.columns == {"city": FieldIndex(None, "city", "text").column}
    with engine.connect() as conn:
        counted = preview_counts(conn, audience)
    assert counted.contacts == 3  # Kampen, KAMPEN and the Kelvin sign's
    assert client.delete(f"/api/v1/segments/{segment_id}", headers=shop.auth()).status_code == 204
    assert reconcile(engine).dropped == [name]
    with engine.connect() as conn:
        assert preview_counts(conn, audience) == counted
    assert new_segment(client, shop, {"field": "city", "op": "in", "value": ["Zwolle"]})
    assert reconcile(engine).built == [name], "the column is there: only the index is made again"


def test_sqlite_makes_no_field_column_past_the_limit(client, engine, shop, monkeypatch):  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    from service.domain import field_indexes

    new_segment(client, shop, {"field": "city", "op": "eq", "value": "Kampen"})
    assert len(reconcile(engine).built) == 1
    monkeypatch.setattr(field_indexes, "MAX_FIELD_COLUMNS", 1)
    new_segment(client, shop, {"field": "points", "op": "eq", "value": 12})
    done = reconcile(engine)
    name = FieldIndex(None, "points", "number").name
    assert (done.built, list(done.failed)) == ([], [name]), done
    assert "1 field columns" in done.failed[name]
