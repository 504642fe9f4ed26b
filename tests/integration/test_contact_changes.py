"""Changing one contact through the domain: edits checked as import rows are, opt-out and re-subscription
with their history, erasure with the ledger hashed, and the export of all contacts."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from service.domain.contact_changes import (
    ContactEdit,
    edit_contact,
    erase_contact,
    lift,
    resubscribe_contact,
    unsubscribe_contact,
)
from service.domain.contact_export import export_rows
from service.domain.contacts import as_utc, find_contacts
from service.domain.erasures import address_hash, is_erased
from service.domain.status_history import history_of
from service.downloads import csv_lines
from service.errors import Conflict, InvalidInput, NotFound
from service.models import Account, Contact
from tests.integration.contact_helpers import three_contacts
from tests.integration.mailing_helpers import (
    EVERYONE,
    create_mailing,
    create_segment,
    ledger_table,
    make_account,
    verdicts,
)


@pytest.fixture
def acme(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    return three_contacts(make_tenant, import_rows, engine)


@pytest.fixture
def crm(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    """An external-ID account whose K1 and K2 share an inbox."""
    rows = [["K1", "gezin@example.nl", "Sanne", "", "", ""], ["K2", "GEZIN@example.nl", "Piet", "", "", ""],
            ["K3", "solo@example.nl", "Jan", "", "", ""]]
    return make_account(make_tenant, import_rows, engine, rows, name="crm", mode="external_id")


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    assert account is not None
    return account


def _stored(engine, contact_id: int) -> dict | None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        row = conn.execute(text("SELECT email, address_key, status, attributes, updated_at FROM contacts "
                                "WHERE id = :id"), {"id": contact_id}).mappings().first()
    return None if row is None else dict(row)


def _edit(engine, account_id: int, contact_id: int, edit: ContactEdit):  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as session:
        return edit_contact(session, _account(session, account_id), contact_id, edit)


def test_an_edit_checks_values_as_an_import_does_and_moves_updated_at(engine, acme):
    sanne = acme["sanne@example.nl"]
    before = _stored(engine, sanne)
    edited = _edit(engine, acme.id, sanne, ContactEdit(
        email=" Sanne.New@Example.NL ", fields={"born": "31-12-1999", "points": "2,5", "vip": "nee",
                                                "city": None, "first_name": "  Sanne  "},
        external_ids={"crm": "C-1"}))
    assert edited.email == "Sanne.New@example.nl" and edited.address_key == "sanne.new@example.nl"
    assert edited.fields == {"first_name": "Sanne", "born": "1999-12-31", "points": 2.5, "vip": False}
    assert edited.external_ids == {"crm": "C-1"}
    assert _stored(engine, sanne)["updated_at"] != before["updated_at"]
    # JSON numbers and booleans are taken as they are; an empty text clears.
    edited = _edit(engine, acme.id, sanne, ContactEdit(fields={"points": 3, "vip": True, "born": ""},
                                                       external_ids={"crm": None}))
    assert edited.fields == {"first_name": "Sanne", "points": 3, "vip": True}
    assert edited.external_ids == {}


def test_an_edit_that_changes_nothing_keeps_updated_at(engine, acme):
    sanne = acme["sanne@example.nl"]
    before = _stored(engine, sanne)
    _edit(engine, acme.id, sanne, ContactEdit(email="sanne@example.nl", fields={"first_name": "Sanne",
                                                                               "born": None}))
    assert _stored(engine, sanne) == before


@pytest.mark.parametrize(("edit", "part"), [
    (ContactEdit(email="not an address"), "email"),
    (ContactEdit(email="  "), "email"),
    (ContactEdit(fields={"born": "31-02-2000"}), "fields.born"),
    (ContactEdit(fields={"points": "many"}), "fields.points"),
    (ContactEdit(fields={"points": True}), "fields.points"),
    (ContactEdit(fields={"vip": "perhaps"}), "fields.vip"),
    (ContactEdit(fields={"first_name": ["a"]}), "fields.first_name"),
    (ContactEdit(fields={"shoe_size": "42"}), "fields.shoe_size"),
    (ContactEdit(fields={"status": "active"}), "fields.status"),
    (ContactEdit(fields={"created_at": "2020-01-01"}), "fields.created_at"),
    (ContactEdit(external_ids={"shop": "1"}), "external_ids.shop"),
])
def test_an_invalid_edit_names_its_part_and_changes_nothing(engine, acme, edit, part):
    sanne = acme["sanne@example.nl"]
    before = _stored(engine, sanne)
    # The valid parts of the edit are not applied either.
    edit.fields = {"first_name": "Changed", **edit.fields}
    with pytest.raises(InvalidInput) as caught:
        _edit(engine, acme.id, sanne, edit)
    assert caught.value.part == part, caught.value.message
    assert _stored(engine, sanne) == before


def test_an_id_must_match_the_links_pattern(engine, make_tenant, import_rows):
    account = make_account(make_tenant, import_rows, engine, [], name="strict", mode="email")
    with engine.begin() as conn:
        conn.execute(text("UPDATE links SET id_pattern = 'K[0-9]+' WHERE account_id = :a"), {"a": account.id})
    from tests.integration.mailing_helpers import BY_EMAIL, HEADER, address_ids
    import_rows(account.tenant, [HEADER, ["", "a@example.nl", "", "", "", ""]], BY_EMAIL)
    contact = address_ids(engine, account.id)["a@example.nl"]
    with pytest.raises(InvalidInput) as caught:
        _edit(engine, account.id, contact, ContactEdit(external_ids={"crm": "X1"}))
    assert (caught.value.part, caught.value.code) == ("external_ids.crm", "invalid_external_id")
    edited = _edit(engine, account.id, contact, ContactEdit(external_ids={"crm": "K1"}))
    assert edited.external_ids == {"crm": "K1"}


def test_an_edit_conflicting_with_another_contact_changes_nothing(engine, acme):
    sanne, piet = acme["sanne@example.nl"], acme["piet@example.nl"]
    _edit(engine, acme.id, piet, ContactEdit(external_ids={"crm": "C-9"}))
    before = _stored(engine, sanne)
    with pytest.raises(Conflict) as caught:
        _edit(engine, acme.id, sanne, ContactEdit(email="PIET@example.nl", fields={"city": "X"}))
    assert caught.value.code == "address_conflict"
    with pytest.raises(Conflict) as caught:
        _edit(engine, acme.id, sanne, ContactEdit(external_ids={"crm": "C-9"}, fields={"city": "X"}))
    assert caught.value.code == "id_conflict"
    assert _stored(engine, sanne) == before


def test_an_external_id_account_lets_contacts_share_an_address(engine, crm):
    edited = _edit(engine, crm.id, crm["K3"], ContactEdit(email="gezin@example.nl"))
    assert edited.address_key == "gezin@example.nl"
    with pytest.raises(Conflict) as caught:
        _edit(engine, crm.id, crm["K3"], ContactEdit(external_ids={"crm": "K1"}))
    assert caught.value.code == "id_conflict"


def test_another_accounts_contact_is_not_found(engine, acme, crm):
    with pytest.raises(NotFound):
        _edit(engine, crm.id, acme["sanne@example.nl"], ContactEdit(fields={}))
    with Session(engine) as session, pytest.raises(NotFound):
        erase_contact(session, _account(session, crm.id), acme["sanne@example.nl"])


def test_unsubscribe_and_resubscribe_record_their_history(engine, acme):
    sanne, piet, bounced = acme["sanne@example.nl"], acme["piet@example.nl"], acme["=cmd@example.nl"]
    with Session(engine, expire_on_commit=False) as session:
        account = _account(session, acme.id)
        assert unsubscribe_contact(session, account, sanne, detail="asked by phone").status == "unsubscribed"
        assert unsubscribe_contact(session, account, bounced).status == "bounced"  # stays bounced
        with pytest.raises(InvalidInput) as caught:
            resubscribe_contact(session, account, piet, "  ", admin=False)
        assert caught.value.part == "consent"
        assert resubscribe_contact(session, account, piet, "signed up again at the fair",
                                   admin=False).status == "active"
        assert resubscribe_contact(session, account, piet, "again", admin=False).status == "active"
        with pytest.raises(Conflict) as conflict:
            resubscribe_contact(session, account, bounced, "fixed the typo", admin=False)
        assert conflict.value.code == "address_bounced"
        assert resubscribe_contact(session, account, bounced, "fixed the typo", admin=True).status == "active"
        changes = {contact: [(h.status_from, h.status_to, h.source, h.detail)
                             for h in history_of(session, acme.id, contact)]
                   for contact in (sanne, piet, bounced)}
    assert changes[sanne] == [("active", "unsubscribed", "api", "asked by phone")]
    assert changes[piet][-1:] == [("unsubscribed", "active", "api", "signed up again at the fair")]
    assert changes[bounced][-1:] == [("bounced", "active", "api", "fixed the typo")]


def test_an_erasure_forgets_the_person_and_hashes_the_ledger(engine, client, crm):
    segment = create_segment(client, crm, EVERYONE)
    mailing = create_mailing(client, crm, [segment])
    personal = create_mailing(client, crm, [segment], allow_shared_address=True,
                              personalized_by=["first_name"])
    assert [r["verdict"] for r in verdicts(client, crm, mailing, [crm["K1"], crm["K3"]])] == ["send", "send"]
    assert [r["verdict"] for r in verdicts(client, crm, personal, [crm["K3"]])] == ["send"]
    with Session(engine) as session:
        account = _account(session, crm.id)
        unsubscribe_contact(session, account, crm["K3"])
        erase_contact(session, account, crm["K3"])
        erase_contact(session, account, crm["K1"])
    with engine.connect() as conn:
        left = {table: conn.execute(text(f"SELECT count(*) FROM {table} WHERE {column} = :c"),
                                    {"c": crm["K3"]}).scalar_one()
                for table, column in (("contacts", "id"), ("external_ids", "contact_id"),
                                      ("contact_status_history", "contact_id"))}
    assert left == {"contacts": 0, "external_ids": 0, "contact_status_history": 0}
    with Session(engine) as session:
        solo_hash = address_hash(session, crm.id, "solo@example.nl")
        assert is_erased(session, crm.id, "solo@example.nl")
        assert is_erased(session, crm.id, "gezin@example.nl")
    rows = ledger_table(engine, mailing) + ledger_table(engine, personal)
    assert len(rows) == 3 and all(row["state"] == "claimed" for row in rows)  # the counts stay
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert "solo@" not in stored
    assert {row["address_key"] for row in rows if row["contact_id"] == crm["K3"]} == {solo_hash}
    # K2 still lives at K1's address: the slot keeps holding it for the mailing, and K2 is not cleared.
    assert [r["reason"] for r in verdicts(client, crm, mailing, [crm["K2"]])] == ["duplicate_address"]
    with Session(engine) as session:
        assert lift(session, _account(session, crm.id), " SOLO@example.nl ") == 1
        assert not is_erased(session, crm.id, "solo@example.nl")
        assert lift(session, _account(session, crm.id), "solo@example.nl") == 0


def test_an_erased_address_is_refused_by_an_edit_until_lifted(engine, acme):
    sanne, piet = acme["sanne@example.nl"], acme["piet@example.nl"]
    with Session(engine) as session:
        erase_contact(session, _account(session, acme.id), sanne)
    with pytest.raises(Conflict) as caught:
        _edit(engine, acme.id, piet, ContactEdit(email="Sanne@Example.nl"))
    assert caught.value.code == "erased_address"
    with Session(engine) as session:
        assert lift(session, _account(session, acme.id), "sanne@example.nl") == 1
    edited = _edit(engine, acme.id, piet, ContactEdit(email="sanne@example.nl"))
    assert edited.address_key == "sanne@example.nl"


def test_the_export_holds_every_contact_once_spreadsheet_safe(engine, acme):
    _edit(engine, acme.id, acme["sanne@example.nl"], ContactEdit(
        fields={"born": "1999-12-31", "points": "12"}, external_ids={"crm": "+31"}))
    _edit(engine, acme.id, acme["piet@example.nl"], ContactEdit(fields={"points": "2,5"}))
    # What is written, not the cells: the CSV escapes each cell once (downloads.csv_lines), and
    # the export itself leaves the escaping to it.
    header, *rows = list(csv.reader(io.StringIO("".join(csv_lines(export_rows(engine, acme.id))))))
    assert header == ["id", "email", "status", "created_at", "updated_at", "first_name", "city", "vip",
                      "born", "points", "crm"]
    by_email = {row[1]: row for row in rows}
    assert len(rows) == 3 == len(by_email)
    assert by_email["sanne@example.nl"][2] == "active"
    assert by_email["sanne@example.nl"][5:] == ["Sanne", "Utrecht", "true", "1999-12-31", "12", "'+31"]
    assert by_email["'=cmd@example.nl"][5:8] == ["'@SUM(A1)", "'-1+2", ""]
    assert by_email["piet@example.nl"][2] == "unsubscribed"
    assert by_email["piet@example.nl"][7:10] == ["false", "", "2.5"]
    # Times as the API writes them: UTC, ISO 8601 (the database writes them, not Python).
    with Session(engine) as session:
        piet = session.get(Contact, acme["piet@example.nl"])
        assert piet is not None
        written = datetime.fromisoformat(by_email["piet@example.nl"][4])
        assert written.utcoffset() == timedelta(0) and written == as_utc(piet.updated_at)
    # The rows themselves are the stored values: escaped once, by the writer (a second pass of
    # its own cost the export a call per cell).
    raw = {row[1]: row for row in list(export_rows(engine, acme.id))[1:]}
    assert list(raw["=cmd@example.nl"][5:7]) == ["@SUM(A1)", "-1+2"]


def test_find_contacts_filters_by_status_and_pages_through_everyone(engine, acme):
    with Session(engine) as session:
        page, cursor = find_contacts(session, acme.id, limit=2)
        rest, last = find_contacts(session, acme.id, after=cursor or 0, limit=2)
        assert len(page) == 2 and len(rest) == 1 and last is None
        [bounced], _ = find_contacts(session, acme.id, status="bounced")
        assert bounced.address_key == "=cmd@example.nl"
        with pytest.raises(InvalidInput) as caught:
            find_contacts(session, acme.id, status="gone")
        assert caught.value.part == "status"


def test_an_erasure_hashes_the_events_of_the_address_and_keeps_a_shared_addresss_counts(engine, crm):
    from service.models import ContactEvent

    with Session(engine) as session:
        session.add_all([
            ContactEvent(account_id=crm.id, event_id="e1", type="soft_bounce", contact_id=crm["K3"],
                         address_key="solo@example.nl", detail="452 <solo@example.nl> mailbox full"),
            ContactEvent(account_id=crm.id, event_id="e2", type="soft_bounce", contact_id=crm["K1"],
                         address_key="gezin@example.nl", detail="452 <gezin@example.nl> mailbox full"),
            ContactEvent(account_id=crm.id, event_id="e3", type="soft_bounce", contact_id=crm["K2"],
                         address_key="gezin@example.nl", detail="452 <gezin@example.nl> mailbox full"),
        ])
        session.commit()
        account = _account(session, crm.id)
        erase_contact(session, account, crm["K3"])
        erase_contact(session, account, crm["K1"])
        digests = {key: address_hash(session, crm.id, key) for key in ("solo@example.nl", "gezin@example.nl")}
    with engine.connect() as conn:
        events = {row.event_id: (row.address_key, row.detail) for row in conn.execute(
            text("SELECT event_id, address_key, detail FROM contact_events ORDER BY id"))}
    assert events["e1"] == (digests["solo@example.nl"], None)
    assert events["e2"] == (digests["gezin@example.nl"], None)
    # K2 still lives at the address: its own bounce still counts there.
    assert events["e3"] == ("gezin@example.nl", "452 <gezin@example.nl> mailbox full")


def test_an_erased_survivor_is_not_brought_back_by_undoing_its_merge(client, engine, crm):
    response = client.post("/api/v1/dedup/apply", json={"to": "email"}, headers=crm.auth("admin"))
    assert response.status_code == 200 and response.json["merged"] == 1, response.json
    change_id = response.json["change_id"]
    with engine.connect() as conn:
        [survivor] = conn.execute(text("SELECT id FROM contacts WHERE address_key = :k"),
                                  {"k": "gezin@example.nl"}).scalars()
    with Session(engine) as session:
        erase_contact(session, _account(session, crm.id), survivor)
    with engine.connect() as conn:
        snapshots = conn.execute(text("SELECT count(*) FROM dedup_merges")).scalar_one()
        survivors = conn.execute(text("SELECT count(*) FROM dedup_survivors WHERE contact_id = :c"),
                                 {"c": survivor}).scalar_one()
    assert (snapshots, survivors) == (0, 0)
    response = client.post("/api/v1/dedup/undo", json={"change_id": change_id}, headers=crm.auth("admin"))
    assert response.status_code == 200 and response.json["restored"] == 0, response.json
    with engine.connect() as conn:
        keys = set(conn.execute(text("SELECT address_key FROM contacts WHERE account_id = :a"),
                                {"a": crm.id}).scalars())
    assert keys == {"solo@example.nl"}


def test_an_export_closed_early_ends_its_fetching_thread_and_gives_its_connection_back(engine, acme,
                                                                                        monkeypatch):
    """A client that goes away mid-download closes the rows; the thread that fetches ahead stops
    (here while it waits, a batch of one row at a time filling its queue)."""
    import threading

    from service.domain import contact_export

    monkeypatch.setattr(contact_export, "BATCH", 1)
    rows = export_rows(engine, acme.id)
    assert next(rows)[0] == "id"
    first = next(rows)
    assert first[0].isdigit()
    rows.close()  # type: ignore[attr-defined]
    assert not any(t.name == "contacts-export" for t in threading.enumerate())
    assert engine.pool.checkedout() == 0
    assert len(list(export_rows(engine, acme.id))) == 4  # the header and the three contacts, after all
