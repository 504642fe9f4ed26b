"""Spreadsheet-friendly CSV: a page's download in the spreadsheet dialect of its language (Dutch:
`;` and a UTF-8 byte-order mark; English: `,` and the mark too), and the API's `?delimiter=` and
`?bom=` on every CSV endpoint, with the formula escaping kept."""

from __future__ import annotations

import csv
import io

import pytest
from page_helpers import signed_in

PEOPLE = [["nr", "email", "first_name", "city"],
          ["K1", "jurgen@example.de", "Jürgen", "Düsseldorf"],
          ["K2", "eva@example.nl", "=HYPERLINK(\"http://x\")", "Utrecht"],
          ["K3", "not an address", "Kees", "Ede"]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "city": "city"}}


@pytest.fixture
def people(make_tenant, import_ok, client):  # type: ignore[no-untyped-def]
    tenant = make_tenant("dialects", "external_id", links={"crm": r"K\d+"},
                         fields={"first_name": "text", "city": "text"})
    job = import_ok(tenant, PEOPLE, {"has_header": True, "delimiter": ",", **BY_CRM})
    segment = client.post("/api/v1/segments", headers=tenant.auth(),
                          json={"name": "Everyone", "rules": {"all": []}}).json
    mailing = client.post("/api/v1/mailings", headers=tenant.auth(),
                          json={"name": "Nieuwsbrief", "include": [segment["id"]]}).json
    return {"tenant": tenant, "job": job["id"], "segment": segment["id"], "mailing": mailing["id"]}


def _api_paths(people: dict) -> list[str]:
    return [f"/api/v1/imports/{people['job']}/rejected.csv",
            f"/api/v1/segments/{people['segment']}/recipients?format=csv",
            f"/api/v1/mailings/{people['mailing']}/recipients?format=csv",
            f"/api/v1/mailings/{people['mailing']}/ledger?format=csv",
            "/api/v1/contacts/export"]


def _join(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def _excel_dutch(body: bytes) -> list[list[str]]:
    """The cells as Dutch Excel reads the file: UTF-8 after its byte-order mark, split on `;`."""
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_every_api_csv_takes_a_delimiter_and_a_byte_order_mark(client, people):  # type: ignore[no-untyped-def]
    auth = people["tenant"].auth()
    for path in _api_paths(people):
        plain = client.get(path, headers=auth)
        assert plain.status_code == 200 and plain.mimetype == "text/csv", path
        assert not plain.data.startswith(b"\xef\xbb\xbf"), path  # the default: no byte-order mark
        header = next(csv.reader(io.StringIO(plain.get_data(as_text=True))))
        dutch = client.get(_join(path, "delimiter=%3B&bom=true"), headers=auth)
        assert dutch.status_code == 200 and dutch.data.startswith(b"\xef\xbb\xbf"), path
        assert _excel_dutch(dutch.data)[0] == header, path
        tabbed = client.get(_join(path, "delimiter=tab&bom=false"), headers=auth)
        assert tabbed.status_code == 200, path
        assert next(csv.reader(io.StringIO(tabbed.get_data(as_text=True)), delimiter="\t")) == header, path
        assert ("\t".join(header)).encode() in tabbed.data, path


@pytest.mark.parametrize("query", ["delimiter=%7C", "delimiter=semicolon", "bom=maybe", "delimiter=,,"])
def test_a_bad_delimiter_or_bom_is_refused(client, people, query):  # type: ignore[no-untyped-def]
    for path in _api_paths(people):
        answer = client.get(_join(path, query), headers=people["tenant"].auth())
        assert answer.status_code == 400, (path, query)
        assert answer.json["error"]["code"] == "invalid_request", answer.json
        assert query.split("=")[0] in answer.json["error"]["message"], answer.json


def test_a_dutch_page_download_opens_in_dutch_excel(app, engine, people):  # type: ignore[no-untyped-def]
    web = signed_in(app, engine, people["tenant"].id, "eva@dialects.example")
    web.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nl-NL,nl;q=0.9"
    contacts = _excel_dutch(web.get("/contacts/export.csv").data)
    header, rows = contacts[0], contacts[1:]
    jurgen = next(row for row in rows if row[header.index("email")] == "jurgen@example.de")
    assert jurgen[header.index("first_name")] == "Jürgen" and jurgen[header.index("city")] == "Düsseldorf"
    eva = next(row for row in rows if row[header.index("email")] == "eva@example.nl")
    assert eva[header.index("first_name")] == "'=HYPERLINK(\"http://x\")"  # still text, not a formula
    header, *rows = _excel_dutch(web.get(f"/mailings/{people['mailing']}/recipients.csv").data)
    jurgen = next(row for row in rows if row[header.index("email")] == "jurgen@example.de")
    assert (jurgen[header.index("first_name")], jurgen[header.index("city")]) == ("Jürgen", "Düsseldorf")
    rejected = _excel_dutch(web.get(f"/imports/{people['job']}/rejected.csv").data)
    assert rejected[1][rejected[0].index("reason")] == "invalid_email"
    for path in (f"/segments/{people['segment']}/recipients.csv",
                 f"/mailings/{people['mailing']}/ledger.csv"):
        body = web.get(path).data
        assert body.startswith(b"\xef\xbb\xbf") and b";" in body.split(b"\r\n")[0], path


def test_an_english_page_download_has_commas_and_a_bom(app, engine, people):  # type: ignore[no-untyped-def]
    web = signed_in(app, engine, people["tenant"].id, "eva@dialects.example")
    body = web.get("/contacts/export.csv").data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert any("Jürgen" in row for row in rows) and len(rows[0]) > 3
