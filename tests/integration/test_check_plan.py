"""The check's one statement for the batch's facts and the ledger lookup probes the ledger's
unique indexes contact by contact, also for a mailing the planner's statistics have not seen
(PostgreSQL here runs without autovacuum): with the mailing id as a constant, PostgreSQL estimated
such a mailing at one entry and walked all its entries for every contact of the batch."""

from __future__ import annotations

import pytest
from mailing_helpers import BY_EMAIL, EVERYONE, FIELDS, HEADER, create_mailing, create_segment
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from service.domain import mailings, send_check
from service.models import Account, Mailing

CONTACTS = 3000


def test_a_fresh_mailing_is_probed_by_slot_and_contact(app, client, engine, make_tenant,  # type: ignore[no-untyped-def]
                                                        import_rows) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans without statistics of this kind")
    tenant = make_tenant("planned", "email", fields=FIELDS)
    import_rows(tenant, [HEADER, *([f"K{i}", f"p{i}@example.nl", "", "", "", ""] for i in range(CONTACTS))],
                BY_EMAIL)
    everyone = create_segment(client, tenant, EVERYONE, "everyone")
    seen, fresh = (create_mailing(client, tenant, [everyone], name=name) for name in ("seen", "fresh"))
    claims = ("INSERT INTO send_ledger (mailing_id, contact_id, address_key, address, slot, state, "
              "claimed_at) SELECT :m, id, address_key, email, address_key, 'claimed', now() "
              "FROM contacts WHERE account_id = :a")
    with engine.begin() as conn:
        conn.execute(text(claims), {"m": seen, "a": tenant.id})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE send_ledger"))  # the statistics know the first mailing only
    with engine.begin() as conn:
        conn.execute(text(claims), {"m": fresh, "a": tenant.id})
        ids = list(conn.execute(text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id LIMIT 1000"),
                                {"a": tenant.id}).scalars())

    with app.app_context(), Session(engine) as session:
        account, mailing = session.get(Account, tenant.id), session.get(Mailing, fresh)
        assert account is not None and mailing is not None
        audience = mailings.mailing_audience(session, account, mailing)
    statement = send_check.facts_and_clearances(audience, fresh, ids, "postgresql")
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(text("EXPLAIN " + sql.replace("%", "%%"))).scalars())
    assert plan.count("send_ledger held") == 1 and plan.count("send_ledger holds") == 1, plan
    probes = [line for line in plan.splitlines() if "on send_ledger" in line]
    assert any("uq_send_ledger_active_slot on send_ledger held" in line for line in probes), plan
    assert any("uq_send_ledger_active_contact on send_ledger holds" in line for line in probes), plan
