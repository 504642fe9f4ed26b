"""File formats end to end through the HTTP API: encodings, delimiters, quoting, headers, inspection,
the Dutch Excel case, and typed values as stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import codecs
import csv
import gzip
import io

import pytest

NAMES = [["email", "first_name", "last_name"],
         ["jerome@example.nl", "Jérôme", "Müller"],
         ["sofie@example.be", "Sofie", "Œuvre €5"]]
MAPPING = {"email": "email", "first_name": "first_name", "last_name": "last_name"}


def encode(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def names_by_email(contacts: list[dict]) -> dict[str, tuple[str, str]]:
    return {c["email"]: (c["attributes"]["first_name"], c["attributes"]["last_name"]) for c in contacts}


ENCODINGS = [
    pytest.param(encode(NAMES), "contacts.csv", "utf-8", id="utf-8"),
    pytest.param(codecs.BOM_UTF8 + encode(NAMES), "contacts.csv", "utf-8-sig", id="utf-8-bom"),
    pytest.param(encode(NAMES, encoding="utf-16"), "contacts.csv", "utf-16", id="utf-16-bom"),
    pytest.param(encode(NAMES, encoding="cp1252"), "contacts.csv", "cp1252", id="windows-1252"),
    pytest.param(gzip.compress(encode(NAMES)), "contacts.csv.gz", "utf-8", id="gzip"),
    pytest.param(gzip.compress(encode(NAMES, encoding="cp1252")), "export.gz", "cp1252",
                 id="gzip-windows-1252"),
]


@pytest.mark.parametrize(("content", "filename", "encoding"), ENCODINGS)
def test_each_encoding_is_detected_and_imported(content, filename, encoding, make_tenant, import_ok,
                                                inspect_upload, contacts_of):
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    inspected = inspect_upload(tenant, content, filename)
    assert inspected.status_code == 200, inspected.json
    assert inspected.json["encoding"] == encoding
    # The BOM never ends up in the first column's name.
    assert inspected.json["columns"] == ["email", "first_name", "last_name"]
    assert inspected.json["sample_rows"] == NAMES[1:]

    job = import_ok(tenant, content, {"mapping": MAPPING}, filename=filename)
    assert job["report"]["rows"] == 2
    assert job["report"]["created"] == 2
    assert names_by_email(contacts_of(tenant.id)) == {
        "jerome@example.nl": ("Jérôme", "Müller"),
        "sofie@example.be": ("Sofie", "Œuvre €5"),
    }


def test_given_encoding_overrides_detection(make_tenant, import_ok, contacts_of):
    # Windows-1252 bytes that the user says are Latin-1: the setting wins, as the wizard promises.
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    content = encode([NAMES[0], ["jerome@example.nl", "Jérôme", "Müller"]], encoding="cp1252")
    import_ok(tenant, content, {"mapping": MAPPING, "encoding": "latin-1"})
    assert names_by_email(contacts_of(tenant.id)) == {"jerome@example.nl": ("Jérôme", "Müller")}


def test_a_given_encoding_that_would_store_mojibake_is_refused(make_tenant, post_import, contacts_of):
    # Valid UTF-8 bytes that the user says are Latin-1 would be stored as "JÃ©rÃ´me" (issue 11, 10).
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    response = post_import(tenant, encode(NAMES[:2]), {"mapping": MAPPING, "encoding": "latin-1"})
    assert response.status_code == 400, response.json
    assert "row 2 (line 2) is UTF-8" in response.json["error"]["message"]
    assert contacts_of(tenant.id) == []


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_each_delimiter_with_quoted_delimiters_and_newlines(delimiter, make_tenant, import_ok,
                                                            inspect_upload, contacts_of):
    tenant = make_tenant(fields={"first_name": "text", "notes": "text"})
    rows = [
        ["email", "first_name", "notes"],
        ["an@example.nl", "An", f"one{delimiter} two{delimiter} three"],
        ["bo@example.nl", "Bo", "line one\r\nline two \"quoted\""],
        ["cor@example.nl", "Cor", "plain"],
    ]
    content = encode(rows, delimiter=delimiter)
    assert f'"one{delimiter} two{delimiter} three"'.encode() in content  # really quoted

    inspected = inspect_upload(tenant, content)
    assert inspected.status_code == 200, inspected.json
    body = inspected.json
    assert body["delimiter"] == delimiter
    assert body["has_header"] is True
    assert body["columns"] == rows[0]
    assert body["sample_rows"] == rows[1:]

    job = import_ok(tenant, content, {"mapping": {c: c for c in rows[0]}})
    assert job["report"]["rows"] == 3
    assert job["report"]["created"] == 3
    notes = {c["email"]: c["attributes"]["notes"] for c in contacts_of(tenant.id)}
    assert notes == {
        "an@example.nl": f"one{delimiter} two{delimiter} three",
        "bo@example.nl": 'line one\r\nline two "quoted"',
        "cor@example.nl": "plain",
    }


def test_given_delimiter_overrides_detection(make_tenant, import_ok, contacts_of):
    # Semicolons everywhere but the file is really comma-separated: the user's setting wins.
    tenant = make_tenant(fields={"notes": "text"})
    content = b"email,notes\r\nan@example.nl,a;b;c\r\nbo@example.nl,d;e;f\r\n"
    job = import_ok(tenant, content, {"mapping": {"email": "email", "notes": "notes"},
                                      "delimiter": ","})
    assert job["report"]["created"] == 2
    assert {c["attributes"]["notes"] for c in contacts_of(tenant.id)} == {"a;b;c", "d;e;f"}


def test_file_without_header_is_detected_and_numbered_from_one(make_tenant, import_ok, inspect_upload,
                                                               rejected_rows, contacts_of):
    tenant = make_tenant(fields={"first_name": "text"})
    content = b"an@example.nl,An\r\nnot-an-address,Bo\r\ncor@example.nl,Cor\r\n"
    inspected = inspect_upload(tenant, content).json
    assert inspected["has_header"] is False
    assert inspected["columns"] == ["column_1", "column_2"]
    assert inspected["sample_rows"] == [["an@example.nl", "An"], ["not-an-address", "Bo"],
                                        ["cor@example.nl", "Cor"]]

    job = import_ok(tenant, content, {"mapping": {"column_1": "email", "column_2": "first_name"}})
    assert job["report"]["rows"] == 3
    assert job["report"]["created"] == 2
    _, rejected = rejected_rows(tenant, job["id"])
    # Without a header the first record is row 1.
    assert [(r[0], r[1]) for r in rejected] == [("2", "invalid_email")]
    assert [c["email"] for c in contacts_of(tenant.id)] == ["an@example.nl", "cor@example.nl"]


def test_has_header_setting_overrides_detection(make_tenant, import_ok, contacts_of):
    # A header of data-like cells would be taken for data; the user says it is a header.
    tenant = make_tenant(fields={"x2024": "text"})
    content = b"email,2024\r\nan@example.nl,yes\r\n"
    job = import_ok(tenant, content, {"mapping": {"email": "email", "2024": "x2024"}, "has_header": True})
    assert job["report"] == {**job["report"], "rows": 1, "created": 1, "rejected": 0}
    assert contacts_of(tenant.id)[0]["attributes"] == {"x2024": "yes"}


def test_inspect_suggests_a_mapping(make_tenant, inspect_upload):
    tenant = make_tenant(fields={"voornaam": "text", "geboortedatum": "date"})
    content = encode([["E-mailadres", "Voornaam", "Geboorte datum", "Status", "Onbekend"],
                      ["an@example.nl", "An", "31-12-1999", "active", "x"]], delimiter=";")
    response = inspect_upload(tenant, content)
    assert response.status_code == 200
    assert response.json == {
        "encoding": "utf-8",
        "delimiter": ";",
        "has_header": True,
        "columns": ["E-mailadres", "Voornaam", "Geboorte datum", "Status", "Onbekend"],
        "sample_rows": [["an@example.nl", "An", "31-12-1999", "active", "x"]],
        "suggested_mapping": {"E-mailadres": "email", "Voornaam": "voornaam",
                              "Geboorte datum": "geboortedatum", "Status": "status"},
        "suggested_id_column": None,  # only with ?link=
    }


def test_inspect_refuses_a_binary_file(make_tenant, inspect_upload):
    tenant = make_tenant()
    response = inspect_upload(tenant, b"PK\x03\x04" + bytes(200), "contacts.xlsx")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "unreadable_file"
    assert "spreadsheet" in response.json["error"]["message"]


# --- the Dutch Excel case -------------------------------------------------------------------------

DUTCH_FIELDS = {"voornaam": "text", "achternaam": "text", "geboortedatum": "date", "saldo": "number",
                "nieuwsbrief": "boolean"}
DUTCH_MAPPING = {"E-mailadres": "email", "Voornaam": "voornaam", "Achternaam": "achternaam",
                 "Geboortedatum": "geboortedatum", "Saldo": "saldo", "Nieuwsbrief": "nieuwsbrief"}
DUTCH_MATCH = {"by": "external_id", "link": "crm", "column": "KlantNr"}


def test_dutch_excel_file_by_external_id(make_tenant, import_ok, inspect_upload, contacts_of,
                                         api_contact):
    tenant = make_tenant("winkel", "external_id", links={"crm": r"[0-9]{4}"}, fields=DUTCH_FIELDS)
    first = encode([["KlantNr", "E-mailadres", "Voornaam"],
                    ["1001", "jerome@voorbeeld.nl", "Jerome"],
                    ["1002", "ans@voorbeeld.nl", "Ans"]])
    import_ok(tenant, first, {"match": DUTCH_MATCH,
                              "mapping": {"E-mailadres": "email", "Voornaam": "voornaam"}})
    before = {c["ids"]["crm"]: c for c in contacts_of(tenant.id)}

    # What Excel writes on a Dutch Windows machine: ";" between cells, Windows-1252 text, day-first
    # dates, decimal commas and "ja"/"nee".
    excel = (
        "KlantNr;E-mailadres;Voornaam;Achternaam;Geboortedatum;Saldo;Nieuwsbrief\r\n"
        "1001;Jerome@Voorbeeld.nl;Jérôme;Müller;31-12-1999;1.234,56;ja\r\n"
        "1002;ans@voorbeeld.nl;Ans;de Vries-Ørsted;01/02/2003;12,5;nee\r\n"
        "1003;jerome@voorbeeld.nl;Zoë;Müller;15-6-2010;0;ja\r\n"
    ).encode("cp1252")
    inspected = inspect_upload(tenant, excel).json
    assert (inspected["encoding"], inspected["delimiter"], inspected["has_header"]) == ("cp1252", ";", True)
    assert inspected["sample_rows"][0][2:4] == ["Jérôme", "Müller"]

    job = import_ok(tenant, excel, {"match": DUTCH_MATCH, "mapping": DUTCH_MAPPING})
    report = job["report"]
    assert report == {"rows": 3, "created": 1, "created_shared_address": 1, "updated": 2, "unchanged": 0,
                      "skipped": 0, "merged_in_file": 0, "rejected": 0, "rejected_by_reason": {},
                      "status_kept": 0}
    # The family member shares Jérôme's address: the colleague's warning says so.
    assert {w["code"]: w["count"] for w in job["warnings"]}["created_shared_address"] == 1

    after = {c["ids"]["crm"]: c for c in contacts_of(tenant.id)}
    assert after["1001"]["id"] == before["1001"]["id"]
    assert after["1002"]["id"] == before["1002"]["id"]
    assert after["1001"]["email"] == "Jerome@voorbeeld.nl"
    assert after["1001"]["address_key"] == after["1003"]["address_key"] == "jerome@voorbeeld.nl"
    assert after["1001"]["attributes"] == {"voornaam": "Jérôme", "achternaam": "Müller",
                                           "geboortedatum": "1999-12-31", "saldo": 1234.56,
                                           "nieuwsbrief": True}
    assert after["1002"]["attributes"] == {"voornaam": "Ans", "achternaam": "de Vries-Ørsted",
                                           "geboortedatum": "2003-02-01", "saldo": 12.5,
                                           "nieuwsbrief": False}
    assert after["1003"]["attributes"] == {"voornaam": "Zoë", "achternaam": "Müller",
                                           "geboortedatum": "2010-06-15", "saldo": 0,
                                           "nieuwsbrief": True}
    public = api_contact(tenant, after["1003"]["id"])
    assert public["fields"]["geboortedatum"] == "2010-06-15"
    assert public["external_ids"] == {"crm": "1003"}

    # The same file again changes nothing.
    again = import_ok(tenant, excel, {"match": DUTCH_MATCH, "mapping": DUTCH_MAPPING})
    assert again["report"]["unchanged"] == 3
    assert again["report"]["created"] == again["report"]["updated"] == 0


# --- typed values ---------------------------------------------------------------------------------

TYPED_FIELDS = {"count": "number", "amount": "number", "big": "number", "subscribed": "boolean",
                "birthday": "date", "name": "text"}
TYPED_ROWS = [
    ["email", "count", "amount", "big", "subscribed", "birthday", "name", "status"],
    ["an@example.nl", "42", "12,5", "1.234.567", "ja", "1999-12-31", "An", "active"],
    ["bo@example.nl", "-7", "0.25", "2,0", "nee", "31/12/1999", "  Bo  ", "Unsubscribed"],
    ["cor@example.nl", "0", "1.234,56", "-3", "true", "1-2-2003 14:30", "Cor", "bounced"],
    ["dirk@example.nl", "", "", "", "false", "", "", ""],
]


def test_typed_values_are_stored_with_their_types(make_tenant, import_ok, contacts_of, api_contact):
    tenant = make_tenant(fields=TYPED_FIELDS)
    mapping = {column: column for column in TYPED_ROWS[0]}
    job = import_ok(tenant, TYPED_ROWS, {"mapping": mapping})
    assert job["report"]["created"] == 4
    stored = {c["email"]: c for c in contacts_of(tenant.id)}
    an, bo, cor, dirk = (stored[row[0]] for row in TYPED_ROWS[1:])
    assert an["attributes"] == {"count": 42, "amount": 12.5, "big": 1234567, "subscribed": True,
                                "birthday": "1999-12-31", "name": "An"}
    assert bo["attributes"] == {"count": -7, "amount": 0.25, "big": 2, "subscribed": False,
                                "birthday": "1999-12-31", "name": "Bo"}
    assert cor["attributes"] == {"count": 0, "amount": 1234.56, "big": -3, "subscribed": True,
                                 "birthday": "2003-02-01", "name": "Cor"}
    assert dirk["attributes"] == {"subscribed": False}  # empty cells store nothing
    # The JSON types, not only the values: 42 is no float, True is no 1.
    assert type(an["attributes"]["count"]) is int
    assert type(an["attributes"]["amount"]) is float
    assert type(bo["attributes"]["big"]) is int
    assert an["attributes"]["subscribed"] is True and bo["attributes"]["subscribed"] is False
    assert [an["status"], bo["status"], cor["status"], dirk["status"]] == [
        "active", "unsubscribed", "bounced", "active"]
    public = api_contact(tenant, an["id"])
    assert public["fields"] == an["attributes"]

    # A re-import of the same file finds every value equal, whatever JSON spelling the database uses.
    again = import_ok(tenant, TYPED_ROWS, {"mapping": mapping})
    assert again["report"]["unchanged"] == 4, again["report"]
    assert [c["updated_at"] for c in contacts_of(tenant.id)] == [
        stored[row[0]]["updated_at"] for row in TYPED_ROWS[1:]]


def test_reimport_with_other_spellings_is_unchanged(make_tenant, import_ok, contacts_of):
    # "12,5" and "12.50", "ja" and "1", "31-12-1999" and "1999-12-31" are the same values.
    tenant = make_tenant(fields=TYPED_FIELDS)
    mapping = {"email": "email", "amount": "amount", "subscribed": "subscribed", "birthday": "birthday",
               "count": "count"}
    import_ok(tenant, [list(mapping), ["an@example.nl", "12,5", "ja", "31-12-1999", "3"]],
              {"mapping": mapping})
    again = import_ok(tenant, [list(mapping), ["an@example.nl", "12.50", "1", "1999-12-31", "3,0"]],
                      {"mapping": mapping})
    assert again["report"]["unchanged"] == 1, again["report"]


def test_a_changed_value_is_an_update(make_tenant, import_ok, contacts_of):
    tenant = make_tenant(fields=TYPED_FIELDS)
    mapping = {"email": "email", "amount": "amount", "subscribed": "subscribed"}
    import_ok(tenant, [list(mapping), ["an@example.nl", "12,5", "ja"]], {"mapping": mapping})
    again = import_ok(tenant, [list(mapping), ["an@example.nl", "12,6", "ja"]], {"mapping": mapping})
    assert again["report"]["updated"] == 1
    assert contacts_of(tenant.id)[0]["attributes"] == {"amount": 12.6, "subscribed": True}


@pytest.mark.parametrize("number", ["12345678901234567890", "1e300", "-99999999999999999999"])
def test_a_number_too_large_to_store_is_rejected_not_a_failed_import(number, make_tenant, import_ok,
                                                                     rejected_rows, contacts_of):
    tenant = make_tenant(fields={"amount": "number"})
    job = import_ok(tenant, [["email", "amount"], ["an@example.nl", number], ["bo@example.nl", "5"]],
                    {"mapping": {"email": "email", "amount": "amount"}})
    assert job["report"]["rejected_by_reason"] == {"invalid_value": 1}
    _, rejected = rejected_rows(tenant, job["id"])
    assert rejected[0][:2] == ["2", "invalid_value"]
    assert "column 'amount'" in rejected[0][2]
    assert [c["email"] for c in contacts_of(tenant.id)] == ["bo@example.nl"]


def test_numbers_keep_fifteen_significant_digits_on_both_databases(make_tenant, import_ok, contacts_of):
    # As a spreadsheet does; SQLite writes JSON numbers with 15 digits, so PostgreSQL must store the same.
    tenant = make_tenant(fields={"amount": "number"})
    rows = [["email", "amount"], ["an@example.nl", "3.14159265358979323846"], ["bo@example.nl", "0,1"],
            ["cor@example.nl", "9007199254740993"]]
    import_ok(tenant, rows, {"mapping": {"email": "email", "amount": "amount"}})
    amounts = [c["attributes"]["amount"] for c in contacts_of(tenant.id)]
    assert amounts == [3.14159265358979, 0.1, 9007199254740993]
    again = import_ok(tenant, rows, {"mapping": {"email": "email", "amount": "amount"}})
    assert again["report"]["unchanged"] == 3
