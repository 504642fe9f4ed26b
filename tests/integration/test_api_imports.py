"""Import jobs over the API: background runs with progress, failures, and the rejected-rows download."""

from __future__ import annotations

import csv
import io
import time

import pytest
from conftest import csv_bytes
from sqlalchemy import text

EMAIL_ONLY = {"mapping": {"email": "email"}}


def _poll(client, tenant, job_id: int, *, until: tuple[str, ...] = ("succeeded", "failed"),  # type: ignore[no-untyped-def]
          timeout: float = 60.0) -> list[dict]:
    """GET the job until its status is one of `until`; return every answer seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/imports/{job_id}", headers=tenant.auth())
        assert response.status_code == 200, response.json
        seen.append(response.json)
        if response.json["status"] in until:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"import {job_id} did not finish: {seen[-1]}")


def test_a_background_import_is_queued_then_succeeds(client, make_tenant, post_import, contacts_of):
    tenant = make_tenant(fields={"n": "number"})
    rows = [["email", "n"], *([f"person{i}@example.nl", str(i)] for i in range(5000))]
    response = post_import(tenant, rows, {"mapping": {"email": "email", "n": "n"}}, wait=False)
    assert response.status_code == 202, response.json
    accepted = response.json
    assert accepted["status"] in ("queued", "running")
    assert accepted["report"] is None
    assert accepted["filename"] == "contacts.csv"
    seen = _poll(client, tenant, accepted["id"])
    done = seen[-1]
    assert done["status"] == "succeeded", done
    assert done["error"] is None
    assert done["report"]["rows"] == 5000 and done["report"]["created"] == 5000
    assert done["progress"]["rows_done"] == done["report"]["rows"]
    assert done["finished_at"] and done["started_at"]
    # Progress never runs backwards and never beyond the file.
    progress = [answer["progress"]["rows_done"] for answer in seen]
    assert progress == sorted(progress) and progress[-1] == 5000
    assert len(contacts_of(tenant.id)) == 5000
    assert all(a["status"] in ("queued", "running", "succeeded") for a in seen)


def test_a_background_dry_run_changes_nothing(client, make_tenant, post_import, contacts_of):
    tenant = make_tenant()
    rows = [["email"], ["sanne@example.nl"], ["piet@example.nl"], ["nope"]]
    response = post_import(tenant, rows, {**EMAIL_ONLY, "dry_run": True}, wait=False)
    assert response.status_code == 202, response.json
    done = _poll(client, tenant, response.json["id"])[-1]
    assert done["status"] == "succeeded" and done["dry_run"] is True
    assert (done["report"]["created"], done["report"]["rejected"]) == (2, 1)
    assert contacts_of(tenant.id) == []


def _file_that_breaks_after_the_sample() -> bytes:
    """Valid UTF-8 for well over the 64 KiB that detection reads, then a byte that is not UTF-8."""
    good = b"email\r\n" + b"".join(b"person%d@example.nl\r\n" % i for i in range(6000))
    assert len(good) > 100 * 1024
    return good + b"caf\xe9@example.nl\r\n" + b"last@example.nl\r\n"


@pytest.mark.parametrize("wait", [True, False])
def test_a_file_that_fails_half_way_imports_nothing(client, make_tenant, post_import, contacts_of, wait):
    tenant = make_tenant()
    response = post_import(tenant, _file_that_breaks_after_the_sample(), EMAIL_ONLY, wait=wait)
    assert response.status_code == (200 if wait else 202), response.json
    job = response.json if wait else _poll(client, tenant, response.json["id"])[-1]
    assert job["status"] == "failed", job
    assert "row 6002" in job["error"], job["error"]
    assert job["report"] is None
    assert contacts_of(tenant.id) == []
    # Nothing half-done is left behind: the account takes the next import as usual.
    again = post_import(tenant, [["email"], ["sanne@example.nl"]], EMAIL_ONLY)
    assert again.json["status"] == "succeeded" and again.json["report"]["created"] == 1
    assert [c["email"] for c in contacts_of(tenant.id)] == ["sanne@example.nl"]


def _running_job(engine, tenant, phase: str, worker: str) -> int:  # type: ignore[no-untyped-def]
    """Record a job as running in `worker` (host:pid) under a lease, 10 rows in, as a live import would
    (run where its file is, as the command line does: no stored upload)."""
    from datetime import timedelta

    from service.models import utcnow

    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO imports (account_id, status, filename, settings, dry_run, rows_done, phase, worker, "
            "attempts, lease_until, created_at, started_at, heartbeat_at) VALUES (:a, 'running', "
            "'x.csv', '{}', FALSE, 10, :phase, :w, 1, :lease, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"),
            {"a": tenant.id, "phase": phase, "w": worker, "lease": utcnow() + timedelta(minutes=1)})
        return conn.execute(text("SELECT max(id) FROM imports")).scalar_one()


def test_a_job_of_a_dead_worker_is_reported_failed(client, make_tenant, engine):
    """A running job whose process is gone (same host, pid not alive) is settled as failed when read."""
    import socket

    tenant = make_tenant()
    job_id = _running_job(engine, tenant, "applying", f"{socket.gethostname()}:{2**22 + 12345}")
    job = client.get(f"/api/v1/imports/{job_id}", headers=tenant.auth()).json
    assert job["status"] == "failed", job
    assert "interrupted" in job["error"]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT status FROM imports WHERE id = :i"), {"i": job_id}).scalar_one()
    assert stored == "failed"


def test_a_running_job_of_a_live_worker_stays_running(client, make_tenant, engine):
    import os
    import socket

    tenant = make_tenant()
    job_id = _running_job(engine, tenant, "reading", f"{socket.gethostname()}:{os.getpid()}")
    job = client.get(f"/api/v1/imports/{job_id}", headers=tenant.auth()).json
    assert (job["status"], job["progress"]["rows_done"]) == ("running", 10)


# --- the rejected rows ----------------------------------------------------------------------------


def _rejected(client, tenant, job_id: int) -> list[list[str]]:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/imports/{job_id}/rejected.csv", headers=tenant.auth())
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_rejected_rows_have_spreadsheet_row_numbers_and_reasons(client, make_tenant, post_import):
    tenant = make_tenant(fields={"first_name": "text", "note": "text"})
    rows = [
        ["email", "first_name", "note"],                          # row 1
        ["sanne@example.nl", "Sanne", "two\nlines"],              # row 2: one record, one spreadsheet row
        ["not-an-address", "Piet", ""],                           # row 3
        ["kees@example.nl", "Kees", ""],                          # row 4
        ["", "Anna", ""],                                         # row 5
        ["joop@example.nl", "Joop", "x", "surplus"],              # row 6
        ["mies@example.nl", "Mies", ""],                          # row 7
    ]
    settings = {"mapping": {"email": "email", "first_name": "first_name", "note": "note"}}
    job = post_import(tenant, rows, settings).json
    assert job["report"]["rejected"] == 3, job["report"]
    header, *data = _rejected(client, tenant, job["id"])
    assert header == ["row", "reason", "detail", "email", "first_name", "note"]
    assert [(r[0], r[1]) for r in data] == [
        ("3", "invalid_email"), ("5", "missing_key"), ("6", "malformed_row")]
    assert data[0][3:] == ["not-an-address", "Piet", ""]
    assert data[1][3:] == ["", "Anna", ""]
    assert data[2][3:] == ["joop@example.nl", "Joop", "x", "surplus"]
    assert all(r[2] for r in data), data  # every row says why
    assert "@" in data[0][2] or "address" in data[0][2].lower()


def test_rejected_row_numbers_count_blank_lines(client, make_tenant, post_import):
    tenant = make_tenant()
    content = b"email\r\n\r\nsanne@example.nl\r\n\r\n\r\nnot-an-address\r\n"
    job = post_import(tenant, content, EMAIL_ONLY).json
    assert job["report"]["rejected"] == 1, job["report"]
    _, *data = _rejected(client, tenant, job["id"])
    # A spreadsheet shows the file's blank lines as empty rows: the bad address is on row 6.
    assert [r[:2] for r in data] == [["6", "invalid_email"]]


def test_rejected_rows_without_a_header_start_at_row_1(client, make_tenant, post_import):
    tenant = make_tenant()
    content = csv_bytes([["sanne@example.nl"], ["nope"], ["piet@example.nl"], ["nada"]])
    job = post_import(tenant, content, {"has_header": False, "mapping": {"1": "email"}})
    if job.status_code == 400:  # columns of a header-less file may be named otherwise
        columns = client.post("/api/v1/imports/inspect", headers=tenant.auth(),
                              content_type="multipart/form-data",
                              data={"file": (io.BytesIO(content), "c.csv")}).json["columns"]
        job = post_import(tenant, content, {"has_header": False, "mapping": {columns[0]: "email"}})
    job = job.json
    assert job["report"]["rejected"] == 2, job
    header, *data = _rejected(client, tenant, job["id"])
    assert header[:3] == ["row", "reason", "detail"] and len(header) == 4
    assert [r[:2] for r in data] == [["2", "invalid_email"], ["4", "invalid_email"]]


@pytest.mark.parametrize("formula", ["=1+2", "+31 6 1234", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x\")",
                                     "\t=1+2", "\r=1+2"])
def test_rejected_rows_are_safe_in_a_spreadsheet(client, make_tenant, post_import, formula):
    tenant = make_tenant(fields={"note": "text"})
    rows = [["email", "note", formula], [formula, formula, formula], ["", formula, "x"]]
    settings = {"mapping": {"email": "email", "note": "note"}, "has_header": True}
    job = post_import(tenant, rows, settings).json
    assert job["report"]["rejected"] == 2, job
    records = _rejected(client, tenant, job["id"])
    assert [r[1] for r in records[1:]] == ["invalid_email", "missing_key"]
    assert records[0][-1] == "'" + formula.strip()  # column names are trimmed, cells are not
    for record in records:
        for cell in record:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), record
    # The original text is kept, behind the quote mark.
    assert records[1][3:] == ["'" + formula] * 3
    assert records[2][3:] == ["", "'" + formula, "x"]


def test_an_import_without_rejections_has_a_header_only(client, make_tenant, post_import):
    tenant = make_tenant()
    job = post_import(tenant, [["email", "extra"], ["sanne@example.nl", "x"]], EMAIL_ONLY).json
    assert _rejected(client, tenant, job["id"]) == [["row", "reason", "detail", "email", "extra"]]


def test_rejected_rows_of_a_dry_run_can_be_downloaded(client, make_tenant, post_import, contacts_of):
    tenant = make_tenant()
    rows = [["email"], ["nope"], ["sanne@example.nl"]]
    job = post_import(tenant, rows, {**EMAIL_ONLY, "dry_run": True}).json
    assert job["dry_run"] is True and job["report"]["rejected"] == 1
    assert [r[:2] for r in _rejected(client, tenant, job["id"])[1:]] == [["2", "invalid_email"]]
    assert contacts_of(tenant.id) == []


def test_a_large_rejected_download_is_complete(client, make_tenant, post_import):
    tenant = make_tenant()
    rows = [["email"], *([f"bad{i}-at-example.nl"] for i in range(4500)), ["good@example.nl"]]
    job = post_import(tenant, rows, EMAIL_ONLY).json
    assert job["report"]["rejected"] == 4500
    data = _rejected(client, tenant, job["id"])[1:]
    assert [int(r[0]) for r in data] == list(range(2, 4502))
    assert data[-1][3] == "bad4499-at-example.nl"


def test_downloads_leave_no_connection_or_transaction_open(client, make_tenant, post_import, engine):
    """The streamed CSV is read after the request ended: its session must still be closed."""
    tenant = make_tenant()
    job = post_import(tenant, [["email"], ["nope"], ["sanne@example.nl"], ["nada"]], EMAIL_ONLY).json
    for _ in range(3):
        assert len(_rejected(client, tenant, job["id"])) == 3
    # A client that goes away half-way (the stream is closed unread).
    response = client.get(f"/api/v1/imports/{job['id']}/rejected.csv", headers=tenant.auth())
    next(iter(response.response))
    response.close()
    assert engine.pool.checkedout() == 0
    # Nothing holds a lock: another connection can take the tables' strongest lock at once.
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            conn.execute(text("LOCK TABLE import_rejections IN ACCESS EXCLUSIVE MODE"))
        else:
            conn.execute(text("DELETE FROM import_rejections WHERE import_id = -1"))


def test_without_a_mapping_columns_named_like_fields_are_mapped(make_tenant, post_import, contacts_of):
    tenant = make_tenant(fields={"first_name": "text", "birth_date": "date"})
    rows = [["E-mailadres", "First_Name", "birth date", "Notes"],
            ["sanne@example.nl", "Sanne", "31-12-1999", "not a field"]]
    response = post_import(tenant, rows, {"match": {"by": "email"}})
    assert response.status_code == 200, response.json
    job = response.json
    assert job["settings"]["mapping"] == {"E-mailadres": "email", "First_Name": "first_name",
                                          "birth date": "birth_date"}
    assert job["report"]["created"] == 1
    assert contacts_of(tenant.id)[0]["attributes"] == {"first_name": "Sanne", "birth_date": "1999-12-31"}


def test_without_a_mapping_or_an_email_column_the_import_is_refused(make_tenant, post_import, engine):
    tenant = make_tenant()
    response = post_import(tenant, [["Naam", "Plaats"], ["Sanne", "Utrecht"]], {})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_settings"
    assert "email" in response.json["error"]["message"]
