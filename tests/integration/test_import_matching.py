"""DESIGN.md's matching table, row by row, through the API on SQLite and PostgreSQL.

Each test starts from contacts made by an earlier import, imports a small file and checks both the
report (every count) and what the database holds afterwards: contacts, attributes, external IDs.
"""

from __future__ import annotations

import pytest
from import_helpers import expect, rejections

BY_EMAIL = {"match": {"by": "email"}}
NAME = {"email": "email", "first_name": "first_name"}


def by_id(link: str = "crm", column: str = "id") -> dict:
    return {"match": {"by": "external_id", "link": link, "column": column}}


def state(contacts: list[dict]) -> list[tuple]:
    """The contacts as (address_key, attributes, external IDs), in id order."""
    return [(c["address_key"], c["attributes"], c["ids"]) for c in contacts]


def warning_codes(job: dict) -> set[str]:
    return {w["code"] for w in job["warnings"]}


@pytest.fixture
def email_account(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    """An email account: ann (crm K1), bob (crm K2) and cas (no ID), in that id order."""
    tenant = make_tenant("mail", "email", links={"crm": None, "shop": None}, fields={"first_name": "text"})
    import_rows(tenant, [["id", "email", "first_name"], ["K1", "ann@example.nl", "Ann"],
                         ["K2", "bob@example.nl", "Bob"]],
                {**by_id(), "mapping": NAME})
    import_rows(tenant, [["email", "first_name"], ["cas@example.nl", "Cas"]],
                {**BY_EMAIL, "mapping": NAME})
    return tenant


@pytest.fixture
def id_account(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    """An external_id account: ann (K1) and anna (K2) share an address; bob (K3); cas (no ID)."""
    tenant = make_tenant("ids", "external_id", links={"crm": None}, fields={"first_name": "text"})
    import_rows(tenant, [["id", "email", "first_name"], ["K1", "ann@example.nl", "Ann"],
                         ["K2", "Ann@Example.nl", "Anna"], ["K3", "bob@example.nl", "Bob"]],
                {**by_id(), "mapping": NAME})
    import_rows(tenant, [["email", "first_name"], ["cas@example.nl", "Cas"]],
                {**BY_EMAIL, "mapping": NAME})
    return tenant


EMAIL_ACCOUNT = [
    ("ann@example.nl", {"first_name": "Ann"}, {"crm": "K1"}),
    ("bob@example.nl", {"first_name": "Bob"}, {"crm": "K2"}),
    ("cas@example.nl", {"first_name": "Cas"}, {}),
]
ID_ACCOUNT = [
    ("ann@example.nl", {"first_name": "Ann"}, {"crm": "K1"}),
    ("ann@example.nl", {"first_name": "Anna"}, {"crm": "K2"}),
    ("bob@example.nl", {"first_name": "Bob"}, {"crm": "K3"}),
    ("cas@example.nl", {"first_name": "Cas"}, {}),
]


def test_fixtures_hold_what_they_say(email_account, id_account, contacts_of):
    assert state(contacts_of(email_account.id)) == EMAIL_ACCOUNT
    assert state(contacts_of(id_account.id)) == ID_ACCOUNT


# --- email account, matched by e-mail address ------------------------------------------------------


def test_email_by_email_unknown_address_creates(email_account, import_rows, contacts_of):
    job = import_rows(email_account, [["email", "first_name"], ["  Dirk@Example.NL ", "Dirk"]],
                      {**BY_EMAIL, "mapping": NAME})
    expect(job, rows=1, created=1)
    contacts = contacts_of(email_account.id)
    assert state(contacts) == [*EMAIL_ACCOUNT, ("dirk@example.nl", {"first_name": "Dirk"}, {})]
    assert contacts[-1]["email"] == "Dirk@example.nl"  # email-validator lower-cases the domain only
    assert contacts[-1]["status"] == "active"


def test_email_by_email_known_address_updates(email_account, import_rows, contacts_of):
    job = import_rows(email_account, [["email", "first_name"], ["ANN@example.NL", "Annie"]],
                      {**BY_EMAIL, "mapping": NAME})
    expect(job, rows=1, updated=1)
    assert state(contacts_of(email_account.id)) == [
        ("ann@example.nl", {"first_name": "Annie"}, {"crm": "K1"}), *EMAIL_ACCOUNT[1:]]


# --- email account, matched by a link's ID --------------------------------------------------------


def test_email_by_id_found_updates(email_account, import_rows, contacts_of):
    rows = [["id", "email", "first_name"],
            ["K1", "ANN@example.nl", "Annie"],  # its own address, in another spelling
            ["K2", "robert@example.nl", "Robert"]]  # a new address: the contact moves
    job = import_rows(email_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=2, updated=2)
    contacts = contacts_of(email_account.id)
    assert state(contacts) == [
        ("ann@example.nl", {"first_name": "Annie"}, {"crm": "K1"}),
        ("robert@example.nl", {"first_name": "Robert"}, {"crm": "K2"}),
        EMAIL_ACCOUNT[2],
    ]


def test_email_by_id_found_without_address_updates(email_account, import_rows, contacts_of):
    job = import_rows(email_account, [["id", "email", "first_name"], ["K2", "", "Bobby"]],
                      {**by_id(), "mapping": NAME})
    expect(job, rows=1, updated=1)
    assert state(contacts_of(email_account.id))[1] == ("bob@example.nl", {"first_name": "Bobby"},
                                                        {"crm": "K2"})


def test_email_by_id_found_at_another_contacts_address_is_address_conflict(
        email_account, import_rows, contacts_of, rejected_rows):
    rows = [["id", "email", "first_name"],
            ["K1", "bob@example.nl", "Ann at Bob's"],  # Bob holds that address (with an ID)
            ["K2", "cas@example.nl", "Bob at Cas's"]]  # Cas holds that address (without an ID)
    job = import_rows(email_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=2, rejected={"address_conflict": 2})
    assert state(contacts_of(email_account.id)) == EMAIL_ACCOUNT
    assert rejections(rejected_rows, email_account, job) == [(2, "address_conflict"),
                                                         (3, "address_conflict")]


def test_email_by_id_unknown_id_attaches_to_address_without_id(email_account, import_rows, contacts_of):
    job = import_rows(email_account, [["id", "email", "first_name"], ["K3", " CAS@example.nl", "Cas"]],
                      {**by_id(), "mapping": NAME})
    # Nothing but the ID changes: still an update, never "unchanged".
    expect(job, rows=1, updated=1)
    assert state(contacts_of(email_account.id)) == [
        *EMAIL_ACCOUNT[:2], ("cas@example.nl", {"first_name": "Cas"}, {"crm": "K3"})]


def test_email_by_id_unknown_id_at_address_with_another_id_is_id_conflict(
        email_account, import_rows, contacts_of, rejected_rows):
    job = import_rows(email_account, [["id", "email", "first_name"], ["K9", "Bob@example.nl", "Bob?"]],
                      {**by_id(), "mapping": NAME})
    expect(job, rows=1, rejected={"id_conflict": 1})
    assert state(contacts_of(email_account.id)) == EMAIL_ACCOUNT
    assert rejections(rejected_rows, email_account, job) == [(2, "id_conflict")]


def test_email_by_id_unknown_id_and_address_creates(email_account, import_rows, contacts_of):
    job = import_rows(email_account, [["id", "email", "first_name"], ["K4", "dirk@example.nl", "Dirk"]],
                      {**by_id(), "mapping": NAME})
    expect(job, rows=1, created=1)
    assert state(contacts_of(email_account.id)) == [
        *EMAIL_ACCOUNT, ("dirk@example.nl", {"first_name": "Dirk"}, {"crm": "K4"})]


def test_email_by_id_unknown_id_without_address_is_missing_email(email_account, import_rows, contacts_of):
    job = import_rows(email_account, [["id", "email", "first_name"], ["K4", "", "Nobody"]],
                      {**by_id(), "mapping": NAME})
    expect(job, rows=1, rejected={"missing_email": 1})
    assert state(contacts_of(email_account.id)) == EMAIL_ACCOUNT


def test_email_by_id_each_link_has_its_own_ids(email_account, import_rows, contacts_of):
    """Ann has a crm ID but no shop ID: a shop ID attaches; K1 is a new ID in the shop's namespace."""
    rows = [["shop_id", "email", "first_name"], ["S1", "ann@example.nl", "Ann"],
            ["K1", "bob@example.nl", "Bob"]]
    job = import_rows(email_account, rows, {**by_id("shop", "shop_id"), "mapping": NAME})
    expect(job, rows=2, updated=2)
    assert state(contacts_of(email_account.id)) == [
        ("ann@example.nl", {"first_name": "Ann"}, {"crm": "K1", "shop": "S1"}),
        ("bob@example.nl", {"first_name": "Bob"}, {"crm": "K2", "shop": "K1"}),
        EMAIL_ACCOUNT[2],
    ]


def test_email_by_id_rows_claiming_one_address_earliest_wins(email_account, import_rows, contacts_of,
                                                              rejected_rows):
    rows = [["id", "email", "first_name"],
            ["K4", "dirk@example.nl", "Dirk"],  # new ID, new address: created, and holds it
            ["K5", "DIRK@example.nl", "Dirk 2"],  # new ID at an address an earlier row holds
            ["K1", "dirk@example.nl", "Ann moves"],  # a known ID moving to that address
            ["K6", "cas@example.nl", "Cas"],  # attaches to Cas, and holds Cas's address
            ["K7", "cas@example.nl", "Cas 2"]]  # Cas has an ID from the row before now
    job = import_rows(email_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=5, created=1, updated=1, rejected={"address_conflict": 1, "id_conflict": 2})
    assert state(contacts_of(email_account.id)) == [
        *EMAIL_ACCOUNT[:2],
        ("cas@example.nl", {"first_name": "Cas"}, {"crm": "K6"}),
        ("dirk@example.nl", {"first_name": "Dirk"}, {"crm": "K4"}),
    ]
    assert rejections(rejected_rows, email_account, job) == [
        (3, "id_conflict"), (4, "address_conflict"), (6, "id_conflict")]


def test_email_by_id_a_rejected_row_claims_no_address(email_account, import_rows, contacts_of):
    rows = [["id", "email", "first_name"],
            ["K1", "cas@example.nl", "Ann"],  # address_conflict: it takes Cas's address from no one
            ["K8", "cas@example.nl", "Cas"]]  # so this one may attach to Cas
    job = import_rows(email_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=2, updated=1, rejected={"address_conflict": 1})
    assert state(contacts_of(email_account.id))[2] == ("cas@example.nl", {"first_name": "Cas"},
                                                        {"crm": "K8"})


# --- external_id account, matched by the link's ID ------------------------------------------------


def test_id_by_id_unknown_id_creates_even_at_a_known_address(id_account, import_rows, contacts_of):
    rows = [["id", "email", "first_name"],
            ["K4", "bob@example.nl", "Bobbie"],  # Bob's address, in the database
            ["K5", "dirk@example.nl", "Dirk"],  # a new address
            ["K6", "Dirk@example.nl", "Dirk Jr"],  # that address again, earlier in this file
            ["K7", "cas@example.nl", "Cas 2"]]  # the address of a contact without ID
    job = import_rows(id_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=4, created=4, created_shared_address=3)
    assert "created_shared_address" in warning_codes(job)
    assert state(contacts_of(id_account.id)) == [
        *ID_ACCOUNT,
        ("bob@example.nl", {"first_name": "Bobbie"}, {"crm": "K4"}),
        ("dirk@example.nl", {"first_name": "Dirk"}, {"crm": "K5"}),
        ("dirk@example.nl", {"first_name": "Dirk Jr"}, {"crm": "K6"}),
        ("cas@example.nl", {"first_name": "Cas 2"}, {"crm": "K7"}),
    ]


def test_id_by_id_unknown_id_at_a_new_address_is_not_shared(id_account, import_rows, contacts_of):
    job = import_rows(id_account, [["id", "email", "first_name"], ["K4", "dirk@example.nl", "Dirk"]],
                      {**by_id(), "mapping": NAME})
    expect(job, rows=1, created=1)
    assert "created_shared_address" not in warning_codes(job)
    assert state(contacts_of(id_account.id))[-1] == ("dirk@example.nl", {"first_name": "Dirk"},
                                                     {"crm": "K4"})


def test_id_by_id_known_id_updates(id_account, import_rows, contacts_of):
    rows = [["id", "email", "first_name"],
            ["K2", "anna@example.nl", "Anna"],  # moves to an address of her own
            ["K3", "ann@example.nl", "Bob"]]  # moves to a shared address: allowed, not a create
    job = import_rows(id_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=2, updated=2)
    assert state(contacts_of(id_account.id)) == [
        ID_ACCOUNT[0],
        ("anna@example.nl", {"first_name": "Anna"}, {"crm": "K2"}),
        ("ann@example.nl", {"first_name": "Bob"}, {"crm": "K3"}),
        ID_ACCOUNT[3],
    ]


def test_id_by_id_unknown_id_without_address_is_missing_email(id_account, import_rows, contacts_of):
    rows = [["id", "email", "first_name"], ["K4", "", "Nobody"], ["K1", "", "Annie"]]
    job = import_rows(id_account, rows, {**by_id(), "mapping": NAME})
    expect(job, rows=2, updated=1, rejected={"missing_email": 1})
    assert state(contacts_of(id_account.id)) == [
        ("ann@example.nl", {"first_name": "Annie"}, {"crm": "K1"}), *ID_ACCOUNT[1:]]


# --- external_id account, matched by e-mail address -----------------------------------------------


def test_id_by_email_unknown_address_creates_without_id_and_warns(id_account, import_rows, contacts_of):
    job = import_rows(id_account, [["email", "first_name"], ["dirk@example.nl", "Dirk"]],
                      {**BY_EMAIL, "mapping": NAME})
    expect(job, rows=1, created=1)
    warning = {w["code"]: w for w in job["warnings"]}["created_without_external_id"]
    assert warning["count"] == 1
    assert "match_by_email_in_external_id_account" in warning_codes(job)
    assert state(contacts_of(id_account.id)) == [*ID_ACCOUNT, ("dirk@example.nl", {"first_name": "Dirk"},
                                                               {})]


def test_id_by_email_address_of_one_contact_updates(id_account, import_rows, contacts_of):
    rows = [["email", "first_name"], ["BOB@example.nl", "Robert"], ["cas@example.nl", "Cas"]]
    job = import_rows(id_account, rows, {**BY_EMAIL, "mapping": NAME})
    expect(job, rows=2, updated=1, unchanged=1)
    assert "created_without_external_id" not in warning_codes(job)
    assert state(contacts_of(id_account.id)) == [
        *ID_ACCOUNT[:2], ("bob@example.nl", {"first_name": "Robert"}, {"crm": "K3"}), ID_ACCOUNT[3]]


def test_id_by_email_shared_address_is_ambiguous(id_account, import_rows, contacts_of, rejected_rows):
    job = import_rows(id_account, [["email", "first_name"], ["ann@example.nl", "Who?"]],
                      {**BY_EMAIL, "mapping": NAME})
    expect(job, rows=1, rejected={"ambiguous_address": 1})
    assert {w["code"]: w["count"] for w in job["warnings"]}["ambiguous_address"] == 1
    assert state(contacts_of(id_account.id)) == ID_ACCOUNT
    assert rejections(rejected_rows, id_account, job) == [(2, "ambiguous_address")]
