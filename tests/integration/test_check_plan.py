"""How the check's ledger lookup is planned: never a walk of the mailing for each contact.

At every check the check asks which of the batch's slots and contacts already hold a clearance of
the mailing. SQLite answers by probing the two unique indexes (mailing and slot, mailing and
contact) value by value. PostgreSQL gets the two lists as constants: where its statistics know
the mailing it probes both indexes or scans a small ledger, and where they do not it walks the
mailing's clearances once, looking each up in a hash of the lists. Lists it could not see into
were planned, without statistics of the mailing, as a walk of the mailing for every value
(benchmarks/README.md, "The check's ledger lookup"). PostgreSQL here runs without autovacuum, so
the statistics are in any of three states; the plans are read as the statement is run, with
bound parameters, and must be custom plans also once the driver prepares the statement.
"""

from __future__ import annotations

import pytest
from mailing_helpers import BY_EMAIL, EVERYONE, FIELDS, HEADER, create_mailing, create_segment
from sqlalchemy import text

from service.domain.send_check import _clearances, clearances_query

CONTACTS = 10_000
PROBED = 10  # as many as the planner, knowing the mailing, probes rather than walks it
CLAIMS = ("INSERT INTO send_ledger (mailing_id, contact_id, address_key, address, slot, state, "
          "claimed_at) SELECT :m, id, address_key, email, address_key, 'claimed', :now "
          "FROM contacts WHERE account_id = :a")


def _analyse(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE send_ledger"))


def _plan(engine, mailing_id: int, slots: list[str], ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    statement = clearances_query(mailing_id, slots, ids, engine.dialect.name)
    compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    params = (tuple(compiled.params[name] for name in compiled.positiontup or ()) if compiled.positional
              else compiled.params)
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + str(compiled), params).all()
    return [str(row[0]) if engine.dialect.name == "postgresql" else str(row[-1]) for row in rows]


@pytest.mark.parametrize("statistics", ["never analysed", "analysed before the claims",
                                        "analysed with the claims"])
def test_the_ledger_lookup_is_planned_by_the_batch(client, engine, make_tenant, import_rows,  # type: ignore[no-untyped-def]
                                                   statistics: str) -> None:
    postgresql = engine.dialect.name == "postgresql"
    if not postgresql and statistics != "never analysed":
        pytest.skip("SQLite keeps no statistics of the ledger here: one state to plan in")
    tenant = make_tenant("planned", "email", fields=FIELDS)
    import_rows(tenant, [HEADER, *([f"K{i}", f"p{i}@example.nl", "", "", "", ""] for i in range(CONTACTS))],
                BY_EMAIL)
    everyone = create_segment(client, tenant, EVERYONE, "everyone")
    other, checked = (create_mailing(client, tenant, [everyone], name=name) for name in ("other", "checked"))
    claims = {"a": tenant.id, "now": "2026-12-03 12:00:00"}
    with engine.begin() as conn:
        conn.execute(text(CLAIMS), {**claims, "m": other})
    if statistics == "analysed before the claims":
        _analyse(engine)  # the statistics know the other mailing only
    with engine.begin() as conn:
        conn.execute(text(CLAIMS), {**claims, "m": checked})
        batch = conn.execute(text("SELECT id, address_key FROM contacts WHERE account_id = :a ORDER BY id "
                                  "LIMIT :n"), {"a": tenant.id, "n": PROBED}).all()
    if statistics == "analysed with the claims":
        _analyse(engine)
    if postgresql:
        with engine.connect() as conn:
            analysed = conn.execute(text(
                "SELECT reltuples >= 0 FROM pg_class WHERE oid = 'send_ledger'::regclass")).scalar()
        assert analysed == (statistics != "never analysed")

    plan = _plan(engine, checked, [key for _, key in batch], [contact_id for contact_id, _ in batch])
    shown = "\n".join(plan)
    if not postgresql:
        assert sorted(line for line in plan if "send_ledger" in line) == [
            "SEARCH send_ledger USING INDEX uq_send_ledger_active_contact (mailing_id=? AND contact_id=?)",
            "SEARCH send_ledger USING INDEX uq_send_ledger_active_slot (mailing_id=? AND slot=?)",
        ], shown
        return
    # the lists as constants (not parameters), and no loop over them
    assert "Loop" not in shown and "Join" not in shown and "$" not in shown, shown
    if statistics == "analysed with the claims":  # a few values against 10,000 clearances: probed
        conditions = sorted(line.strip() for line in plan if "Index Cond:" in line)
        assert "BitmapOr" in shown and len(conditions) == 2, shown
        probed = f"Index Cond: ((mailing_id = {checked}) AND "
        assert conditions[0].startswith(probed + "((slot)::text = ANY ('{"), shown
        assert conditions[1].startswith(probed + "(contact_id = ANY ('{"), shown
    else:  # the mailing taken for empty: its clearances walked once, each looked up in the lists
        assert [line.strip() for line in plan if "Index Cond:" in line] == [
            f"Index Cond: (mailing_id = {checked})"], shown
        assert "ANY ('{" in shown, shown


def test_the_lookup_is_planned_afresh_after_the_driver_prepares_it(engine, make_tenant):  # type: ignore[no-untyped-def]
    """psycopg prepares a statement at its fifth run on a connection; the server could then plan it
    once for any lists (a generic plan), with no constant to hash or to count."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements and generic plans are PostgreSQL's")
    make_tenant("prepared", "email")
    with engine.connect() as conn:
        for round_ in range(8):
            with conn.begin():
                assert _clearances(conn, 1, [f"a{round_}@example.nl"], [round_ + 1]) == ({}, set())
        plans = conn.execute(text("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                                  "WHERE statement LIKE '%send_ledger%'")).all()
    assert len(plans) == 1, plans
    assert plans[0].generic_plans == 0 and plans[0].custom_plans >= 3, plans


def test_the_lookup_finds_holders_by_slot_and_by_contact(client, engine, make_tenant, import_rows):  # type: ignore[no-untyped-def]
    """The lookup finds a slot's holder and a contact's own clearance under a slot it
    has since left, and leave released clearances and other mailings' out."""
    tenant = make_tenant("looked-up", "email", fields=FIELDS)
    import_rows(tenant, [HEADER, *([f"K{i}", f"q{i}@example.nl", "", "", "", ""] for i in range(4))],
                BY_EMAIL)
    everyone = create_segment(client, tenant, EVERYONE, "everyone")
    other, checked = (create_mailing(client, tenant, [everyone], name=name) for name in ("other", "checked"))
    with engine.begin() as conn:
        ids = list(conn.execute(text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id"),
                                {"a": tenant.id}).scalars())
        entries = [(checked, ids[0], "q0@example.nl", "claimed"),  # holds its own address
                   (checked, ids[1], "old@example.nl", "sent"),  # holds an address it has left
                   (checked, ids[2], "q2@example.nl", "released"),  # let go
                   (other, ids[3], "q3@example.nl", "claimed")]  # another mailing's
        for mailing_id, contact_id, slot, state in entries:
            conn.execute(text("INSERT INTO send_ledger (mailing_id, contact_id, address_key, address, slot, "
                              "state, claimed_at) VALUES (:m, :c, :s, :s, :s, :state, :now)"),
                         {"m": mailing_id, "c": contact_id, "s": slot, "state": state,
                          "now": "2026-12-03 12:00:00"})
        slots = ["q0@example.nl", "q1@example.nl", "q2@example.nl", "q3@example.nl"]
        rows = conn.execute(clearances_query(checked, slots, ids, engine.dialect.name)).all()
    assert {tuple(row) for row in rows} == {("q0@example.nl", ids[0]), ("old@example.nl", ids[1])}
