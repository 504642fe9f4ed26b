"""Files as tools and accidents write them (issue 11, findings 9, 10 and 11), end to end through the
API on SQLite and PostgreSQL: read right, or the row refused with its number, never stored wrong."""

from __future__ import annotations

import io

import pytest

from tests.integration.test_import_files import MAPPING, NAMES, encode, names_by_email


@pytest.mark.parametrize("content", [
    pytest.param(encode(NAMES, delimiter=";", encoding="cp1252").replace(b"\r\n", b"\r"), id="cr-only"),
    pytest.param(b"sep=;\r\n" + encode(NAMES, delimiter=";"), id="sep-line"),
    pytest.param(b"sep=;\r" + encode(NAMES, delimiter=";", encoding="cp1252").replace(b"\r\n", b"\r"),
                 id="sep-line-cr-only"),
])
def test_files_of_excel_are_read_as_excel_reads_them(client, make_tenant, import_ok, contacts_of, content):
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    inspected = client.post("/api/v1/imports/inspect", data={"file": (io.BytesIO(content), "x.csv")},
                            headers=tenant.auth(), content_type="multipart/form-data").json
    assert (inspected["delimiter"], inspected["columns"]) == (";", NAMES[0])
    job = import_ok(tenant, content, {"mapping": MAPPING})
    assert job["report"]["created"] == 2
    assert names_by_email(contacts_of(tenant.id)) == {row[0]: (row[1], row[2]) for row in NAMES[1:]}
