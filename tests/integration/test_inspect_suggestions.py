"""POST /imports/inspect's suggested_mapping: aliases, labels, and (with ?link=) the link's last
import's mapping and the column that holds its IDs."""

from __future__ import annotations

import io

from tests.conftest import csv_bytes

DUTCH = [["KlantNr", "E-mailadres", "Voornaam", "Achternaam", "Woonplaats", "Geboortedatum", "Opmerking"],
         ["K1", "sanne@example.nl", "Sanne", "Jansen", "Utrecht", "31-12-1999", "x"],
         ["K2", "piet@example.nl", "Piet", "de Vries", "Zwolle", "01-02-1985", ""]]


def _inspect(client, tenant, rows, query: str = ""):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/imports/inspect{query}", headers=tenant.auth(),
                       content_type="multipart/form-data",
                       data={"file": (io.BytesIO(csv_bytes(rows)), "klanten.csv")})


def test_dutch_column_names_suggest_the_accounts_fields(client, make_tenant):
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text", "city": "text",
                                 "birth_date": "date"})
    answer = _inspect(client, tenant, DUTCH)
    assert answer.status_code == 200, answer.json
    assert answer.json["suggested_mapping"] == {
        "E-mailadres": "email", "Voornaam": "first_name", "Achternaam": "last_name",
        "Woonplaats": "city", "Geboortedatum": "birth_date"}
    assert answer.json["suggested_id_column"] is None


def test_only_existing_fields_are_suggested_and_labels_match(client, make_tenant):
    tenant = make_tenant()
    created = client.post("/api/v1/fields", headers=tenant.auth(),
                          json={"name": "remark", "type": "text", "label": "Opmerking"})
    assert created.status_code == 201, created.json
    answer = _inspect(client, tenant, DUTCH)
    assert answer.json["suggested_mapping"] == {"E-mailadres": "email", "Opmerking": "remark"}


def test_a_links_last_import_is_suggested_again(client, make_tenant, post_import):
    tenant = make_tenant("shop", "external_id", links={"crm": r"K\d+", "webshop": None},
                         fields={"roepnaam": "text", "first_name": "text"})
    last = [["Nummer", "Mail", "Voornaam"], ["K7", "a@example.nl", "Anna"]]
    job = post_import(tenant, last, {"match": {"by": "external_id", "link": "crm", "column": "Nummer"},
                                     "mapping": {"Mail": "email", "Voornaam": "roepnaam"}})
    assert job.json["status"] == "succeeded", job.json
    # A later dry run by the link with another mapping is a try, not what was kept.
    dry = post_import(tenant, last, {"match": {"by": "external_id", "link": "crm", "column": "Nummer"},
                                     "mapping": {"Mail": "email", "Voornaam": "first_name"},
                                     "dry_run": True})
    assert dry.json["status"] == "succeeded", dry.json

    rows = [["Voornaam", "Mail", "Nummer"], ["Bob", "b@example.nl", "K8"]]
    by_crm = _inspect(client, tenant, rows, "?link=crm").json
    assert by_crm["suggested_mapping"] == {"Voornaam": "roepnaam", "Mail": "email"}
    assert by_crm["suggested_id_column"] == "Nummer"
    # Without the link, the alias wins and nothing tells the ID column.
    plain = _inspect(client, tenant, rows).json
    assert plain["suggested_mapping"] == {"Voornaam": "first_name", "Mail": "email"}
    assert plain["suggested_id_column"] is None
    # Another link has no last import: aliases, and the ID column by its name only (none here).
    assert _inspect(client, tenant, rows, "?link=webshop").json["suggested_id_column"] is None


def test_the_id_column_by_its_name_or_its_values(client, make_tenant, post_import):
    tenant = make_tenant("shop", "external_id", links={"crm": None, "members": r"M-\d{4}"})
    rows = [["E-mail", "Code", "CustomerID", "Lid"], ["a@example.nl", "A1", "c-1", "M-0001"],
            ["b@example.nl", "B2", "c-2", "M-0002"]]
    assert _inspect(client, tenant, rows, "?link=crm").json["suggested_id_column"] == "CustomerID"
    assert _inspect(client, tenant, rows, "?link=members").json["suggested_id_column"] == "Lid"
    known = post_import(tenant, [["x", "email"], ["A1", "x1@example.nl"], ["B2", "x2@example.nl"]],
                        {"match": {"by": "external_id", "link": "crm", "column": "x"},
                         "mapping": {"email": "email"}})
    assert known.json["status"] == "succeeded", known.json
    # Now the crm's last import named its ID column "x" (not in this file); "Code" holds its IDs.
    answer = _inspect(client, tenant, rows, "?link=crm").json
    assert answer["suggested_id_column"] == "Code"
    assert "Code" not in answer["suggested_mapping"]


def test_an_unknown_link_is_refused(client, make_tenant):
    tenant = make_tenant("shop", links={"crm": None})
    other = make_tenant("other", links={"secret": None})
    assert other.id != tenant.id
    for name in ("nope", "secret"):
        answer = _inspect(client, tenant, DUTCH, f"?link={name}")
        assert answer.status_code == 400, answer.json
        assert answer.json["error"]["code"] == "unknown_link"


def test_an_import_without_a_mapping_takes_the_suggestion(make_tenant, post_import, contacts_of):
    tenant = make_tenant("shop", "external_id", links={"crm": None},
                         fields={"first_name": "text", "kleur": "text", "colour": "text"})
    by_crm = {"by": "external_id", "link": "crm", "column": "Nr"}
    first = post_import(tenant, [["Nr", "Mail", "Kleur"], ["K1", "a@example.nl", "rood"]],
                        {"match": by_crm, "mapping": {"Mail": "email", "Kleur": "colour"}})
    assert first.json["status"] == "succeeded", first.json
    # No mapping: the link's last one for "Kleur" (not the field of that name), an alias for the rest.
    second = post_import(tenant, [["Nr", "E-mailadres", "Voornaam", "Kleur"], ["K1", "a@example.nl", "Anna",
                                                                              "blauw"]], {"match": by_crm})
    assert second.json["status"] == "succeeded", second.json
    assert second.json["settings"]["mapping"] == {"E-mailadres": "email", "Voornaam": "first_name",
                                                  "Kleur": "colour"}
    assert contacts_of(tenant.id)[0]["attributes"] == {"first_name": "Anna", "colour": "blauw"}
