"""A clearance holds the address it was given for (issue 11, finding 1): every send names the
contact's address at the time of the check, the ledger keeps it, and a contact that moves to
another inbox afterwards does not give that inbox a second clearance."""

from __future__ import annotations

from collections import Counter

from mailing_helpers import (
    EVERYONE,
    create_mailing,
    create_segment,
    make_account,
    reimport,
    send,
    skip,
)
from sqlalchemy import text


def _active_by_address(engine, mailing_id: int) -> Counter:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT address FROM send_ledger WHERE mailing_id = :m "
                                 "AND state IN ('claimed', 'sent')"), {"m": mailing_id}).scalars().all()
    return Counter(rows)


def test_a_contact_that_moves_after_its_check_keeps_its_clearance_at_the_old_address(
        client, make_tenant, import_rows, engine):
    account = make_account(make_tenant, import_rows, engine, [
        ["X", "Move1@Example.nl", "Xander", "Utrecht", "", ""],
        ["Y", "move2@example.nl", "Yara", "Utrecht", "", ""]])
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    answer = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [account["X"], account["Y"]]},
                         headers=account.auth("send"))
    assert answer.status_code == 200, answer.json
    assert answer.json["results"] == [send(account["X"], "Move1@example.nl"),
                                      send(account["Y"], "move2@example.nl")]

    reimport(import_rows, account, [["X", "move2@example.nl", "Xander", "Utrecht", "", ""]])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM contacts WHERE id = :x"),
                            {"x": account["X"]}).scalar_one() == "move2@example.nl"

    entries = client.get(f"/api/v1/mailings/{mailing}/ledger", headers=account.auth()).json["entries"]
    assert {e["contact"]: e["address"] for e in entries} == {account["X"]: "Move1@example.nl",
                                                              account["Y"]: "move2@example.nl"}
    assert _active_by_address(engine, mailing) == Counter({"Move1@example.nl": 1, "move2@example.nl": 1})
    again = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [account["X"], account["Y"]]},
                        headers=account.auth("send"))
    assert again.json["results"] == [skip(account["X"], "already_claimed"),
                                     skip(account["Y"], "already_claimed")]
    assert _active_by_address(engine, mailing) == Counter({"Move1@example.nl": 1, "move2@example.nl": 1})


def test_a_replayed_check_answers_the_address_it_cleared_then(client, make_tenant, import_rows, engine):
    account = make_account(make_tenant, import_rows, engine, [["X", "old@example.nl", "", "Utrecht", "", ""]])
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    headers = {**account.auth("send"), "Idempotency-Key": "k1"}
    first = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [account["X"]]},
                        headers=headers)
    reimport(import_rows, account, [["X", "new@example.nl", "", "Utrecht", "", ""]])
    replay = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [account["X"]]},
                         headers=headers)
    assert first.json == replay.json == {"results": [send(account["X"], "old@example.nl")]}
