"""An opt-out that commits while another change of the same contact is under way is never undone
(found by tests/integration/test_chaos_concurrency.py: a contact opted out by an event was cleared
three times afterwards, an import having written `active` back over it).

Made deterministic on PostgreSQL: a transaction standing for an event sets the contact's new status
and holds its row lock; the change under test (an import saying `active`, a re-subscription, an
opt-out by hand) starts, reads the contact as it was, and waits for that lock; then the event commits.
SQLite has one writer: the change runs wholly before or after the event, and the suite's other
consent tests cover both orders.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from lock_helpers import wait_until_blocked_by
from mailing_helpers import BY_CRM, HEADER, make_account
from sqlalchemy import text

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
ANNA = ["A", "a@example.nl", "Anna", "Utrecht", "", ""]


def _while_an_event_holds(engine, contact_id: int, status: str, change: Callable[[], Any]) -> Any:  # type: ignore[no-untyped-def]
    """Run `change` while an uncommitted event gives the contact `status`; commit the event once the
    change waits for it. Return what `change` returned."""
    answers: list = []
    with engine.connect() as event:
        transaction = event.begin()
        event.execute(text("UPDATE contacts SET status = :s WHERE id = :c"), {"s": status, "c": contact_id})
        changing = threading.Thread(target=lambda: answers.append(change()))
        changing.start()
        wait_until_blocked_by(engine, event, "the change (for the event's row lock)", worker=changing)
        assert changing.is_alive(), "the change ended without waiting for the event"
        transaction.commit()
        changing.join(timeout=120)
    assert not changing.is_alive()
    [answer] = answers
    return answer


def _status(engine, contact_id: int) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT status FROM contacts WHERE id = :c"), {"c": contact_id}).scalar_one()


def test_an_import_saying_active_keeps_an_opt_out_that_committed_after_its_plan(
        make_tenant, import_rows, post_import, engine, contacts_of):
    account = make_account(make_tenant, import_rows, engine, [ANNA])
    rows = [HEADER, ["A", "a@example.nl", "Annie", "Utrecht", "", "active"]]
    job = _while_an_event_holds(engine, account["A"], "unsubscribed", lambda: post_import(
        account.tenant, rows, {"has_header": True, "delimiter": ",", **BY_CRM}).json)
    assert job["status"] == "succeeded", job["error"]
    [contact] = contacts_of(account.id)
    assert (contact["attributes"]["first_name"], contact["status"]) == ("Annie", "unsubscribed")


def test_a_resubscription_does_not_undo_a_bounce_that_committed_meanwhile(client, make_tenant, import_rows,
                                                                           engine):
    account = make_account(make_tenant, import_rows, engine,
                           [["A", "a@example.nl", "Anna", "Utrecht", "", "unsubscribed"]])
    contact = account["A"]
    response = _while_an_event_holds(engine, contact, "bounced", lambda: client.post(
        f"/api/v1/contacts/{contact}/resubscribe", json={"consent": "opted in on the form"},
        headers=account.auth()))
    assert response.status_code == 409 and response.json["error"]["code"] == "address_bounced", response.json
    assert _status(engine, contact) == "bounced"


def test_an_opt_out_by_hand_keeps_a_bounce_that_committed_meanwhile(client, make_tenant, import_rows, engine):
    account = make_account(make_tenant, import_rows, engine, [ANNA])
    contact = account["A"]
    response = _while_an_event_holds(engine, contact, "bounced", lambda: client.post(
        f"/api/v1/contacts/{contact}/unsubscribe", json={"detail": "by phone"}, headers=account.auth()))
    assert response.status_code == 200 and response.json["status"] == "bounced", response.json
    assert _status(engine, contact) == "bounced"
