"""Every CSV the product writes is safe to open in a spreadsheet (issue 11, finding 8).

A contact named `=1+1` must come out as text in every download: the send lists of segments and
mailings (API and pages), the ledger (API and page), and the command line's export.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.integration.page_helpers import signed_in

# Names as stored (the importer trims cells, so a leading tab or CR does not survive an import).
FORMULAS = ["=1+1", "+31 6 1234", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")']
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile(client, make_tenant):  # type: ignore[no-untyped-def]
    """A tenant whose contacts are named like formulas, in segment 1 and mailing 1, all cleared."""
    tenant = make_tenant(fields={"first_name": "text"})
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["email", "first_name"],
                                  *([f"ann{i}@example.nl", name] for i, name in enumerate(FORMULAS)),
                                  ["-bob@example.nl", "Bob"]])  # an address may start with one too
    rows = buffer.getvalue()
    settings = {"mapping": {"email": "email", "first_name": "first_name"}}
    job = client.post("/api/v1/imports?wait=true", headers=tenant.auth(), content_type="multipart/form-data",
                      data={"file": (io.BytesIO(rows.encode()), "c.csv"), "settings": json.dumps(settings)})
    assert job.json["report"]["created"] == len(FORMULAS) + 1, job.json
    assert client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                       headers=tenant.auth()).status_code == 201
    assert client.post("/api/v1/mailings", json={"name": "m", "include": [1]},
                       headers=tenant.auth()).status_code == 201
    listed = client.get("/api/v1/segments/1/recipients", headers=tenant.auth()).json["recipients"]
    check = client.post("/api/v1/mailings/1/check", json={"contacts": [c["id"] for c in listed]},
                        headers=tenant.auth("send"))
    assert check.status_code == 200

    return tenant


def assert_safe(text: str, *, names: bool = True) -> list[list[str]]:
    records = list(csv.reader(io.StringIO(text)))
    assert len(records) == len(FORMULAS) + 2, records
    for record in records:
        for cell in record:
            assert not cell.startswith(FORMULA_STARTS), record
    if names:  # the text itself is kept, behind the quote mark
        assert {"'" + name for name in FORMULAS} <= {cell for record in records for cell in record}
    return records


@pytest.mark.parametrize("path", ["/api/v1/segments/1/recipients?format=csv",
                                  "/api/v1/mailings/1/recipients?format=csv"])
def test_send_list_csv_from_the_api_is_spreadsheet_safe(client, hostile, path):
    response = client.get(path, headers=hostile.auth())
    assert response.status_code == 200 and response.mimetype == "text/csv"
    records = assert_safe(response.get_data(as_text=True))
    assert "'-bob@example.nl" in {record[1] for record in records}


def test_ledger_csv_from_the_api_is_spreadsheet_safe(client, hostile):
    response = client.get("/api/v1/mailings/1/ledger?format=csv", headers=hostile.auth())
    assert response.status_code == 200
    records = assert_safe(response.get_data(as_text=True), names=False)
    assert "'-bob@example.nl" in {cell for record in records for cell in record}


@pytest.mark.parametrize(("path", "names"), [("/segments/1/recipients.csv", True),
                                             ("/mailings/1/recipients.csv", True),
                                             ("/mailings/1/ledger.csv", False)])
def test_csv_downloads_of_the_pages_are_spreadsheet_safe(app, engine, hostile, path, names):
    user = signed_in(app, engine, hostile.id, "ann@example.nl")
    response = user.get(path)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # an English page's download: `,` after a byte-order mark
    assert_safe(text.removeprefix("\ufeff"), names=names)


def test_the_command_line_export_is_spreadsheet_safe(cli, hostile):
    result = cli("segments", "export", "1", "--account", hostile.name)
    assert result.exit_code == 0, result.output
    assert_safe(result.stdout)
