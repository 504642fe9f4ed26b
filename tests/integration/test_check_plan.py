"""Why the check reads the ledger in a statement of its own (benchmarks/README.md, "The check,
third round"): one statement for the batch's facts and the ledger lookup would have to reach the
ledger by probes of its partial unique indexes, one per contact and at most one entry each, in
every state of the statistics (PostgreSQL here runs without autovacuum). The best form found,
LATERAL ... LIMIT 1 probes with equality on all the columns of each unique index (the mailing a
bound value, the states the indexes' own literals), is safe only once the ledger has been analysed
with the mailing's entries: never analysed, or analysed before the mailing had entries, the
planner takes the mailing for one entry (the partial index for 1% of the table) and probes each
contact's own clearance through uq_send_ledger_active_slot by the mailing alone, walking all the
mailing's entries for every contact; the second round's form went the same way (more than 46 s
for one 10,000-contact check). These tests pin that down, so that a planner that changes its mind
shows (strict xfail), and check the one state that is safe."""

from __future__ import annotations

import pytest
from mailing_helpers import BY_EMAIL, EVERYONE, FIELDS, HEADER, create_mailing, create_segment
from sqlalchemy import Integer, Select, bindparam, select, text, true
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from segments.batch import batch_query
from segments.collapse import Audience
from service.domain import mailings
from service.domain.send_check import ledger
from service.models import ACTIVE_CLEARANCE, Account, Mailing

CONTACTS = 10_000
CLAIMS = ("INSERT INTO send_ledger (mailing_id, contact_id, address_key, address, slot, state, "
          "claimed_at) SELECT :m, id, address_key, email, address_key, 'claimed', now() "
          "FROM contacts WHERE account_id = :a")


def facts_and_clearances(audience: Audience, mailing_id: int, ids: list[int]) -> Select:
    """The candidate: the batch's facts, each row with the holder of its slot (an address key
    here) and whether the contact holds an active clearance itself."""
    batch = batch_query(audience, ids, "postgresql").subquery("b")
    by_slot, by_contact = ledger.alias("ls"), ledger.alias("lc")
    mailing = bindparam("ledger_mailing", mailing_id, type_=Integer())
    held = select(by_slot.c.contact_id).where(
        by_slot.c.mailing_id == mailing, by_slot.c.slot == batch.c.address_key,
        text(f"ls.{ACTIVE_CLEARANCE.text}")).limit(1).lateral("h")
    own = select(by_contact.c.contact_id).where(
        by_contact.c.mailing_id == mailing, by_contact.c.contact_id == batch.c.id,
        text(f"lc.{ACTIVE_CLEARANCE.text}")).limit(1).lateral("k")
    return (select(batch, held.c.contact_id.label("holder"), own.c.contact_id.label("holds"))
            .select_from(batch.outerjoin(held, true()).outerjoin(own, true())))


def _analyse(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE send_ledger"))


WALKS = pytest.mark.xfail(strict=True, reason="the planner takes a mailing it has no statistics of for "
                          "one entry and walks its entries for each contact's own clearance")


@pytest.mark.parametrize("statistics", [pytest.param("never analysed", marks=WALKS),
                                        pytest.param("analysed before the claims", marks=WALKS),
                                        "analysed with the claims"])
def test_the_ledger_is_probed_by_slot_and_contact(app, client, engine, make_tenant,  # type: ignore[no-untyped-def]
                                                  import_rows, statistics: str) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan: SQLite has no statistics on the ledger to go wrong by")
    tenant = make_tenant("planned", "email", fields=FIELDS)
    import_rows(tenant, [HEADER, *([f"K{i}", f"p{i}@example.nl", "", "", "", ""] for i in range(CONTACTS))],
                BY_EMAIL)
    everyone = create_segment(client, tenant, EVERYONE, "everyone")
    other, checked = (create_mailing(client, tenant, [everyone], name=name) for name in ("other", "checked"))
    with engine.begin() as conn:
        conn.execute(text(CLAIMS), {"m": other, "a": tenant.id})
    if statistics == "analysed before the claims":
        _analyse(engine)  # the statistics know the other mailing only
    with engine.begin() as conn:
        conn.execute(text(CLAIMS), {"m": checked, "a": tenant.id})
        ids = list(conn.execute(text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id"),
                                {"a": tenant.id}).scalars())
    if statistics == "analysed with the claims":
        _analyse(engine)
    with engine.connect() as conn:
        analysed = conn.execute(text("SELECT reltuples >= 0 FROM pg_class WHERE oid = 'send_ledger'::regclass"
                                     )).scalar()
    assert analysed == (statistics != "never analysed")

    with app.app_context(), Session(engine) as session:
        account, mailing = session.get(Account, tenant.id), session.get(Mailing, checked)
        assert account is not None and mailing is not None
        audience = mailings.mailing_audience(session, account, mailing)
    assert len(ids) == CONTACTS
    statement = facts_and_clearances(audience, checked, ids)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(text("EXPLAIN " + sql.replace("%", "%%"))).scalars())
    ledger_scans = [line for line in plan.splitlines() if " send_ledger " in line]
    assert len(ledger_scans) == 2, plan
    assert any("Index Scan using uq_send_ledger_active_slot on send_ledger ls" in line
               for line in ledger_scans), plan
    assert any("Scan using uq_send_ledger_active_contact on send_ledger lc" in line
               for line in ledger_scans), plan
    # each probe is an equality on both of its index's columns, driven by the batch's row
    conditions = [line.strip() for line in plan.splitlines() if "Index Cond: ((mailing_id = " in line]
    assert sorted(conditions) == [
        f"Index Cond: ((mailing_id = {checked}) AND ((slot)::text = (c.address_key)::text))",
        f"Index Cond: ((mailing_id = {checked}) AND (contact_id = c.id))"], plan
    assert "Materialize" not in plan, plan
