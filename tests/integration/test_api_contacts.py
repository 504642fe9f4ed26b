"""Reading contacts over the API: the shape of one contact, and lookups by address and external ID."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import text

FIELDS = {"first_name": "text", "birth_date": "date", "orders": "number", "vip": "boolean"}
ROWS = [["KlantNr", "E-mail", "Voornaam", "Geboren", "Orders", "VIP", "Status"],
        ["K1", "  Sanne.de.Vries@Example.NL ", "Sanne", "31-12-1999", "12", "ja", "unsubscribed"],
        ["K2", "piet@example.nl", "Piet", "1980-02-29", "2,5", "nee", ""],
        ["K3", "sanne.de.vries@example.nl", "", "", "", "", ""]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
          "mapping": {"E-mail": "email", "Voornaam": "first_name", "Geboren": "birth_date",
                      "Orders": "orders", "VIP": "vip", "Status": "status"}}
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]00:00)$")  # UTC, said so


@pytest.fixture
def family(make_tenant, post_import):  # type: ignore[no-untyped-def]
    """An external-ID account where K1 and K3 share one inbox (spelled two ways), K2 is alone."""
    tenant = make_tenant("family", "external_id", links={"crm": r"K[0-9]+", "shop": None}, fields=FIELDS)
    response = post_import(tenant, ROWS, BY_CRM)
    assert response.status_code == 200, response.json
    report = response.json["report"]
    assert (report["created"], report["created_shared_address"], report["rejected"]) == (3, 1, 0), report
    return tenant


def _by_crm(client, tenant, value: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/contacts?external_id.crm={value}", headers=tenant.auth())
    assert response.status_code == 200, response.json
    [contact] = response.json["contacts"]
    return contact


def test_a_contact_has_the_documented_shape(client, family):
    contact_id = _by_crm(client, family, "K1")["id"]
    response = client.get(f"/api/v1/contacts/{contact_id}", headers=family.auth())
    assert response.status_code == 200, response.json
    contact = response.json
    assert set(contact) >= {"id", "email", "address_key", "status", "fields", "external_ids",
                            "merged_external_ids", "created_at", "updated_at"}
    assert contact["id"] == contact_id
    assert contact["email"] == "Sanne.de.Vries@example.nl"  # trimmed; email-validator lower-cases the domain
    assert contact["address_key"] == "sanne.de.vries@example.nl"
    assert contact["status"] == "unsubscribed"
    assert contact["fields"] == {"first_name": "Sanne", "birth_date": "1999-12-31", "orders": 12, "vip": True}
    assert contact["external_ids"] == {"crm": "K1"}
    assert contact["merged_external_ids"] == {}
    for stamp in ("created_at", "updated_at"):
        assert ISO_TIMESTAMP.match(contact[stamp]), contact[stamp]
    assert datetime.fromisoformat(contact["updated_at"]) >= datetime.fromisoformat(contact["created_at"])


def test_dates_numbers_and_booleans_keep_their_types(client, family):
    piet = _by_crm(client, family, "K2")
    assert piet["fields"] == {"first_name": "Piet", "birth_date": "1980-02-29", "orders": 2.5, "vip": False}
    assert piet["status"] == "active"
    # Empty cells are no values at all (not "" or null).
    assert _by_crm(client, family, "K3")["fields"] == {}


def test_the_list_and_the_single_contact_agree(client, family):
    listed = _by_crm(client, family, "K2")
    single = client.get(f"/api/v1/contacts/{listed['id']}", headers=family.auth()).json
    assert listed == single


def test_merged_external_ids_are_listed_apart(client, family, engine):
    """IDs of contacts merged into this one (stored with merged = true) are shown, not as its own ID."""
    survivor = _by_crm(client, family, "K1")["id"]
    with engine.begin() as conn:
        crm = conn.execute(text("SELECT id FROM links WHERE account_id = :a AND name = 'crm'"),
                           {"a": family.id}).scalar_one()
        for value in ("K7", "K8"):
            conn.execute(text("INSERT INTO external_ids (account_id, link_id, contact_id, value, merged) "
                              "VALUES (:a, :l, :c, :v, TRUE)"),
                         {"a": family.id, "l": crm, "c": survivor, "v": value})
    contact = client.get(f"/api/v1/contacts/{survivor}", headers=family.auth()).json
    assert contact["external_ids"] == {"crm": "K1"}
    assert contact["merged_external_ids"] == {"crm": ["K7", "K8"]}
    # A merged ID still leads to the contact it was merged into.
    assert _by_crm(client, family, "K8")["id"] == survivor


@pytest.mark.parametrize("address", [
    "sanne.de.vries@example.nl",
    "SANNE.DE.VRIES@EXAMPLE.NL",
    "  Sanne.de.Vries@Example.nl  ",
    "sanne.de.vries@EXAMPLE.nl\t",
])
def test_lookup_by_address_uses_the_address_key(client, family, address):
    from urllib.parse import quote

    response = client.get(f"/api/v1/contacts?address={quote(address)}", headers=family.auth())
    assert response.status_code == 200, response.json
    found = response.json["contacts"]
    # Both contacts at the shared inbox, however the address is spelled; never Piet.
    assert sorted(c["external_ids"]["crm"] for c in found) == ["K1", "K3"]
    assert {c["address_key"] for c in found} == {"sanne.de.vries@example.nl"}


@pytest.mark.parametrize("address", ["nobody@example.nl", "sanne.de.vries@example.com", "not an address", ""])
def test_lookup_by_an_unknown_address_finds_nothing(client, family, address):
    response = client.get("/api/v1/contacts", query_string={"address": address}, headers=family.auth())
    assert response.status_code == 200, response.json
    assert response.json["contacts"] == []


def test_lookup_by_external_id(client, family):
    assert _by_crm(client, family, "K2")["email"] == "piet@example.nl"
    for query in ("external_id.crm=K9", "external_id.crm=k2", "external_id.shop=K2"):
        response = client.get(f"/api/v1/contacts?{query}", headers=family.auth())
        assert response.status_code == 200, response.json
        assert response.json["contacts"] == [], query


def test_address_and_external_id_combine(client, family):
    both = client.get("/api/v1/contacts?address=sanne.de.vries@example.nl&external_id.crm=K3",
                      headers=family.auth()).json["contacts"]
    assert [c["external_ids"]["crm"] for c in both] == ["K3"]
    neither = client.get("/api/v1/contacts?address=piet@example.nl&external_id.crm=K3",
                         headers=family.auth()).json["contacts"]
    assert neither == []


def test_contacts_are_paged_with_a_cursor(client, make_tenant, post_import):
    tenant = make_tenant()
    rows = [["email"], *([f"person{i}@example.nl"] for i in range(7))]
    assert post_import(tenant, rows, {"mapping": {"email": "email"}}).json["report"]["created"] == 7
    seen, cursor, pages = [], 0, 0
    while cursor is not None:
        page = client.get(f"/api/v1/contacts?limit=3&cursor={cursor}", headers=tenant.auth()).json
        assert len(page["contacts"]) <= 3
        seen += [c["email"] for c in page["contacts"]]
        cursor, pages = page["next_cursor"], pages + 1
    assert pages == 3
    assert seen == [f"person{i}@example.nl" for i in range(7)]


def test_an_unknown_contact_is_404(client, make_tenant):
    tenant = make_tenant()
    response = client.get("/api/v1/contacts/12345", headers=tenant.auth())
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
