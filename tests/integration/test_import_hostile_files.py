"""Files as tools and accidents write them (issue 11, findings 9, 10 and 11), end to end through the
API on SQLite and PostgreSQL: read right, or the row refused with its number, never stored wrong."""

from __future__ import annotations

import io

import pytest

from importer.reading import SAMPLE_SIZE
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


def test_a_nul_byte_past_the_sample_rejects_its_row(make_tenant, import_ok, contacts_of, rejected_rows):
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    good = [[f"p{i}@example.nl", "Piet", "Pietersen"] for i in range(SAMPLE_SIZE // 28 + 100)]
    rows = [NAMES[0], *good, ["nul@example.nl", "Jan\x00", "Jansen"], ["last@example.nl", "Last", "One"]]
    content = encode(rows)
    assert content.index(b"\x00") > SAMPLE_SIZE  # detection never sees it
    job = import_ok(tenant, content, {"mapping": MAPPING})
    nul_row = len(good) + 2
    assert job["report"]["created"] == len(good) + 1
    assert job["report"]["rejected_by_reason"] == {"malformed_row": 1}
    _header, records = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1], r[4]) for r in records] == [(str(nul_row), "malformed_row", "Jan\ufffd")]
    assert "NUL" in records[0][2]
    assert "nul@example.nl" not in {c["email"] for c in contacts_of(tenant.id)}


def test_mixed_encodings_are_refused_and_overwrite_no_good_name(client, make_tenant, import_ok, post_import,
                                                               contacts_of):
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    import_ok(tenant, encode([NAMES[0], ["jorg@example.de", "Jörg", "Müller"]]), {"mapping": MAPPING})
    before = contacts_of(tenant.id)
    mixed = (encode([NAMES[0], ["jorg@example.de", "Jörg", "Müller"]])
             + encode([["sofie@example.be", "Sofie", "Œuvre €5"]], encoding="cp1252"))
    response = post_import(tenant, mixed, {"mapping": MAPPING})
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "unreadable_file"
    assert "line 2" in response.json["error"]["message"] and "line 3" in response.json["error"]["message"]
    assert contacts_of(tenant.id) == before  # no "JÃ¶rg"
    inspected = client.post("/api/v1/imports/inspect", data={"file": (io.BytesIO(mixed), "x.csv")},
                            headers=tenant.auth(), content_type="multipart/form-data")
    assert inspected.status_code == 400 and "mixes encodings" in inspected.json["error"]["message"]


def test_utf8_rows_past_a_windows_1252_sample_fail_the_job_naming_the_row(make_tenant, post_import,
                                                                         contacts_of):
    tenant = make_tenant(fields={"first_name": "text", "last_name": "text"})
    good = [[f"p{i}@example.nl", "Jérôme", "Müller"] for i in range(SAMPLE_SIZE // 30 + 100)]
    content = encode([NAMES[0], *good], encoding="cp1252") + encode([["jorg@example.de", "Jörg", "Müller"]])
    job = post_import(tenant, content, {"mapping": MAPPING}).json
    assert job["status"] == "failed", job
    assert f"row {len(good) + 2}" in job["error"] and "UTF-8" in job["error"]
    assert contacts_of(tenant.id) == []  # atomic: nothing of it stored
