"""Events against checks (DESIGN.md, "Consent"): OS processes of their own check every contact for
many mailings while another reports events that opt the same contacts out. An event and a check
must not both win: every clearance of a contact that an event opted out was claimed before the
event took the contact (its history row's time, taken once the event holds the contact's row),
and no check answers `send` for it afterwards."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from mailing_helpers import EVERYONE, create_mailing, create_segment, make_account, post_worker, run_clients
from sqlalchemy import text

CONTACTS = 120
MAILINGS = 24
CHECKERS = 2
EVENT_BATCH = 4


def _moment(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_an_event_and_a_concurrent_check_never_both_win(client, make_tenant, import_rows, engine,
                                                        database_url, tmp_path):
    rng = random.Random(1010)
    rows = [[f"C{n}", f"person{n}@example{n % 7}.nl", "", "Utrecht", "", ""] for n in range(CONTACTS)]
    account = make_account(make_tenant, import_rows, engine, rows)
    segment = create_segment(client, account, EVERYONE)
    mailings = [create_mailing(client, account, [segment], name=f"m{n}") for n in range(MAILINGS)]
    ids = sorted(account.ids.values())

    checks = []
    for _ in range(CHECKERS):
        plan = []
        for mailing in mailings:
            order = list(ids)
            rng.shuffle(order)
            plan.append((f"/api/v1/mailings/{mailing}/check", {"contacts": order}))
        checks.append((database_url, str(tmp_path / "uploads"), account.tenant.keys["send"], plan))
    targets = list(ids)
    rng.shuffle(targets)
    address_of = {account.ids[crm]: email for crm, email, *_ in rows}
    kinds = ["unsubscribe", "complaint", "hard_bounce"]
    events = [("/api/v1/events", {"events": [
        {"type": rng.choice(kinds), **({"contact": c} if rng.random() < 0.5 else {"address": address_of[c]})}
        for c in targets[i:i + EVENT_BATCH]]}) for i in range(0, len(targets), EVENT_BATCH)]
    answers = run_clients(post_worker, [*checks, (database_url, str(tmp_path / "uploads"),
                                                  account.tenant.keys["send"], events)], tmp_path)

    assert all(a["status"] == 200 for worker in answers for a in worker), [
        a for worker in answers for a in worker if a["status"] != 200][:3]
    assert {r["status"] for a in answers[-1] for r in a["answer"]["results"]} == {"applied"}
    with engine.connect() as conn:
        opted_out = {contact: _moment(at) for contact, at in conn.execute(text(
            "SELECT contact_id, MIN(at) FROM contact_status_history WHERE account_id = :a "
            "AND source = 'event' GROUP BY contact_id"), {"a": account.id})}
        claims = conn.execute(text(
            "SELECT contact_id, claimed_at FROM send_ledger WHERE mailing_id IN (SELECT id FROM mailings "
            "WHERE account_id = :a)"), {"a": account.id}).all()
        statuses = set(conn.execute(text("SELECT status FROM contacts WHERE account_id = :a"),
                                    {"a": account.id}).scalars())
    assert set(opted_out) == set(ids) and "active" not in statuses  # every contact was opted out
    late = [(c, claimed, opted_out[c]) for c, claimed in claims if _moment(claimed) >= opted_out[c]]
    assert late == []
    # The race was run: some contacts were cleared for some mailings and opted out while the
    # checks went on, so that later checks skipped them.
    results = [r for worker in answers[:-1] for a in worker for r in a["answer"]["results"]]
    sent = sum(r["verdict"] == "send" for r in results)
    skipped = sum(r.get("reason") in ("unsubscribed", "bounced") for r in results)
    assert sent == len(claims) and 0 < sent < CONTACTS * MAILINGS and skipped > 0, (sent, skipped)
