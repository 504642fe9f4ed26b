"""The references the database keeps: on PostgreSQL checked per statement (migration 0014), on SQLite
by foreign keys. Both refuse the same things; on PostgreSQL concurrent writers wait as for a key."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.integration.test_dedup_locking import BLOCKED_WITHIN, Holder

INSERT_CONTACT = text(
    "INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, attributes, created_at, "
    "updated_at) VALUES (:account, :mode, :email, :email, 'active', '{}', CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP)")
INSERT_ID = text("INSERT INTO external_ids (account_id, link_id, contact_id, value, merged) "
                 "VALUES (:a, :l, :c, :v, FALSE)")


def _contact(conn, account_id: int, mode: str, email: str) -> int:  # type: ignore[no-untyped-def]
    conn.execute(INSERT_CONTACT, {"account": account_id, "mode": mode, "email": email})
    return conn.execute(text("SELECT max(id) FROM contacts WHERE account_id = :a"),
                        {"a": account_id}).scalar_one()


def _link(engine, account_id: int) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM links WHERE account_id = :a"),
                            {"a": account_id}).scalar_one()


def _scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_a_statement_with_one_wrong_mode_is_refused_whole(engine, make_tenant):
    tenant = make_tenant("acme", "external_id")
    rows = [{"account": tenant.id, "mode": mode, "email": f"{n}@x.nl"}
            for n, mode in enumerate(["external_id", "email", "external_id"])]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, attributes, "
            "created_at, updated_at) SELECT account, mode, email, email, 'active', '{}', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP FROM (" + " UNION ALL ".join(
                f"SELECT {r['account']} AS account, '{r['mode']}' AS mode, '{r['email']}' AS email"
                for r in rows) + ") AS given"))
    assert _scalar(engine, "SELECT count(*) FROM contacts WHERE account_id = :a", a=tenant.id) == 0


def test_a_contact_of_an_unknown_account_or_a_forged_mode_is_refused(engine, make_tenant):
    tenant = make_tenant("acme", "email")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _contact(conn, tenant.id + 1000, "email", "a@x.nl")
    with engine.begin() as conn:
        contact = _contact(conn, tenant.id, "email", "a@x.nl")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET dedup_mode = 'external_id' WHERE id = :c"), {"c": contact})
    assert _scalar(engine, "SELECT dedup_mode FROM contacts WHERE id = :c", c=contact) == "email"


def test_an_account_with_contacts_cannot_be_deleted(engine, make_tenant):
    tenant = make_tenant("acme", "email")
    with engine.begin() as conn:
        _contact(conn, tenant.id, "email", "a@x.nl")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM accounts WHERE id = :a"), {"a": tenant.id})
    assert _scalar(engine, "SELECT count(*) FROM accounts WHERE id = :a", a=tenant.id) == 1


def test_an_external_id_needs_its_link_and_a_link_with_ids_stays(engine, make_tenant):
    tenant = make_tenant("family", "external_id", links={"crm": None})
    link = _link(engine, tenant.id)
    with engine.begin() as conn:
        contact = _contact(conn, tenant.id, "external_id", "a@x.nl")
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one row of two names no link
        conn.execute(INSERT_ID, [{"a": tenant.id, "l": link, "c": contact, "v": "K1"},
                                 {"a": tenant.id, "l": link + 1000, "c": contact, "v": "K2"}])
    assert _scalar(engine, "SELECT count(*) FROM external_ids WHERE account_id = :a", a=tenant.id) == 0
    with engine.begin() as conn:
        conn.execute(INSERT_ID, {"a": tenant.id, "l": link, "c": contact, "v": "K1"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE external_ids SET link_id = :l WHERE value = 'K1'"), {"l": link + 1000})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM links WHERE id = :l"), {"l": link})
    assert _scalar(engine, "SELECT count(*) FROM links WHERE id = :l", l=link) == 1


def _postgresql_only(engine) -> None:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing runs concurrently")


def _wait_for(holder: Holder, call) -> tuple[threading.Thread, list]:  # type: ignore[no-untyped-def]
    """Run `call` in a thread; return once it waits for `holder` (and its outcome list)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except IntegrityError as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    holder.wait_until_someone_waits(worker)
    assert worker.is_alive(), "it did not wait"
    return worker, outcome


def test_a_mode_change_waits_for_an_uncommitted_contact_and_carries_to_it(engine, make_tenant):
    _postgresql_only(engine)
    tenant = make_tenant("family", "external_id")
    inserting = Holder(engine)
    inserting.transaction = inserting.conn.begin()
    contact = _contact(inserting.conn, tenant.id, "external_id", "a@x.nl")

    def change_mode() -> str:
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET dedup_mode = 'email' WHERE id = :a"), {"a": tenant.id})
        return "changed"

    worker, outcome = _wait_for(inserting, change_mode)
    inserting.release()
    worker.join(BLOCKED_WITHIN)
    inserting.conn.close()
    assert outcome == ["changed"]
    assert _scalar(engine, "SELECT dedup_mode FROM contacts WHERE id = :c", c=contact) == "email"


def test_a_contact_waits_for_an_uncommitted_mode_change_and_is_refused_with_the_old_mode(engine, make_tenant):
    _postgresql_only(engine)
    tenant = make_tenant("family", "external_id")
    changing = Holder(engine)
    changing.transaction = changing.conn.begin()
    changing.conn.execute(text("UPDATE accounts SET dedup_mode = 'email' WHERE id = :a"), {"a": tenant.id})

    def insert_old_mode():  # type: ignore[no-untyped-def]
        with engine.begin() as conn:
            return _contact(conn, tenant.id, "external_id", "a@x.nl")

    worker, outcome = _wait_for(changing, insert_old_mode)
    changing.release()
    worker.join(BLOCKED_WITHIN)
    changing.conn.close()
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    assert _scalar(engine, "SELECT count(*) FROM contacts WHERE account_id = :a", a=tenant.id) == 0


def test_a_link_delete_waits_for_an_uncommitted_external_id_and_is_refused(engine, make_tenant):
    _postgresql_only(engine)
    tenant = make_tenant("family", "external_id", links={"crm": None})
    link = _link(engine, tenant.id)
    inserting = Holder(engine)
    inserting.transaction = inserting.conn.begin()
    contact = _contact(inserting.conn, tenant.id, "external_id", "a@x.nl")
    inserting.conn.execute(INSERT_ID, {"a": tenant.id, "l": link, "c": contact, "v": "K1"})

    def delete_link() -> str:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM links WHERE id = :l"), {"l": link})
        return "deleted"

    worker, outcome = _wait_for(inserting, delete_link)
    inserting.release()
    worker.join(BLOCKED_WITHIN)
    inserting.conn.close()
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    assert _scalar(engine, "SELECT count(*) FROM external_ids WHERE link_id = :l", l=link) == 1


def test_an_external_id_needs_its_contact_and_a_contact_with_ids_stays(engine, make_tenant):
    tenant = make_tenant("family", "external_id", links={"crm": None})
    link = _link(engine, tenant.id)
    with engine.begin() as conn:
        contact = _contact(conn, tenant.id, "external_id", "a@x.nl")
        other = _contact(conn, tenant.id, "external_id", "b@x.nl")
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one row of two names no contact
        conn.execute(INSERT_ID, [{"a": tenant.id, "l": link, "c": contact, "v": "K1"},
                                 {"a": tenant.id, "l": link, "c": other + 1000, "v": "K2"}])
    assert _scalar(engine, "SELECT count(*) FROM external_ids WHERE account_id = :a", a=tenant.id) == 0
    with pytest.raises(IntegrityError), engine.begin() as conn:  # a contact of this transaction, gone again
        gone = _contact(conn, tenant.id, "external_id", "c@x.nl")
        conn.execute(text("DELETE FROM contacts WHERE id = :c"), {"c": gone})
        conn.execute(INSERT_ID, {"a": tenant.id, "l": link, "c": gone, "v": "K3"})
    with engine.begin() as conn:  # its own new contact and a stored one, in one statement
        fresh = _contact(conn, tenant.id, "external_id", "d@x.nl")
        conn.execute(INSERT_ID, [{"a": tenant.id, "l": link, "c": contact, "v": "K1"},
                                 {"a": tenant.id, "l": link, "c": fresh, "v": "K4"}])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE external_ids SET contact_id = :c WHERE value = 'K1'"), {"c": other + 1000})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM contacts WHERE id = :c"), {"c": contact})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET id = :n WHERE id = :c"), {"n": other + 1000, "c": fresh})
    with engine.begin() as conn:  # an ID moved to another contact, then its old contact deleted
        conn.execute(text("UPDATE external_ids SET contact_id = :o, merged = TRUE WHERE value = 'K1'"),
                     {"o": other})
        conn.execute(text("DELETE FROM contacts WHERE id = :c"), {"c": contact})
    assert _scalar(engine, "SELECT contact_id FROM external_ids WHERE value = 'K1' AND account_id = :a",
                   a=tenant.id) == other
    assert _scalar(engine, "SELECT count(*) FROM contacts WHERE id IN (:c, :f)", c=contact, f=fresh) == 1


def _holding(engine, statements):  # type: ignore[no-untyped-def]
    """A transaction that ran `statements(conn)` and is left open."""
    holder = Holder(engine)
    holder.transaction = holder.conn.begin()
    statements(holder.conn)
    return holder


def _finish(holder: Holder, worker: threading.Thread) -> None:
    holder.release()
    worker.join(BLOCKED_WITHIN)
    holder.conn.close()


@pytest.mark.parametrize("also_updated", [False, True], ids=["stored", "updated-by-the-inserter"])
def test_a_contact_delete_waits_for_an_uncommitted_external_id_and_is_refused(engine, make_tenant,
                                                                               also_updated):
    _postgresql_only(engine)
    tenant = make_tenant("family", "external_id", links={"crm": None})
    link = _link(engine, tenant.id)
    with engine.begin() as conn:
        contact = _contact(conn, tenant.id, "external_id", "a@x.nl")

    def attach(conn) -> None:  # type: ignore[no-untyped-def]
        if also_updated:  # the inserter's own row version then: its row lock holds the contact
            conn.execute(text("UPDATE contacts SET status = 'active' WHERE id = :c"), {"c": contact})
        conn.execute(INSERT_ID, {"a": tenant.id, "l": link, "c": contact, "v": "K1"})

    inserting = _holding(engine, attach)

    def delete_contact() -> str:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM contacts WHERE id = :c"), {"c": contact})
        return "deleted"

    worker, outcome = _wait_for(inserting, delete_contact)
    _finish(inserting, worker)
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    assert _scalar(engine, "SELECT count(*) FROM external_ids WHERE contact_id = :c", c=contact) == 1


def test_an_external_id_waits_for_an_uncommitted_contact_delete_and_is_refused(engine, make_tenant):
    _postgresql_only(engine)
    tenant = make_tenant("family", "external_id", links={"crm": None})
    link = _link(engine, tenant.id)
    with engine.begin() as conn:
        contact = _contact(conn, tenant.id, "external_id", "a@x.nl")
    deleting = _holding(engine, lambda conn: conn.execute(text("DELETE FROM contacts WHERE id = :c"),
                                                          {"c": contact}))

    def attach() -> str:
        with engine.begin() as conn:
            conn.execute(INSERT_ID, {"a": tenant.id, "l": link, "c": contact, "v": "K1"})
        return "attached"

    worker, outcome = _wait_for(deleting, attach)
    _finish(deleting, worker)
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    assert _scalar(engine, "SELECT count(*) FROM external_ids WHERE account_id = :a", a=tenant.id) == 0
