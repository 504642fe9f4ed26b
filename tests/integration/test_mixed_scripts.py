"""Addresses that mix scripts in one word are imported with a warning naming their rows (issue 11, #16)."""

from __future__ import annotations

import io
import time

import pytest
from page_helpers import csrf_token, signed_in

from importer import checking

BY_EMAIL = {"match": {"by": "email"}, "mapping": {"email": "email"}}
# Row 1 is the header: rows 3 and 5 mix scripts (a Cyrillic "а" in a Latin word, in the domain and in
# the local part); a wholly Cyrillic address, a German umlaut and Japanese with Latin do not.
CYRILLIC_ONLY = "\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"
UMLAUTS = "j\u00fcrgen@b\u00fccher.de"
ROWS = [["email"], ["anna@example.com"], ["paypal@p\u0430ypal.com"], [CYRILLIC_ONLY],
        ["p\u0430ypal@example.com"], [UMLAUTS], ["tar\u014d\u3072\u3089\u304c\u306a@example.jp"]]


def _mixed(job: dict) -> dict:
    [warning] = [w for w in job["warnings"] if w["code"] == "mixed_script_address"]
    return warning


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_import_warns_of_mixed_script_addresses_and_imports_them(make_tenant, import_ok, dry_run):
    tenant = make_tenant()
    job = import_ok(tenant, ROWS, {**BY_EMAIL, "dry_run": dry_run})
    assert job["report"]["created"] == 6 and job["report"]["rejected"] == 0
    warning = _mixed(job)
    assert warning["count"] == 2
    assert "row 3 paypal@p\u0430ypal.com (CYRILLIC and LATIN)" in warning["message"]
    assert "row 5 p\u0430ypal@example.com (CYRILLIC and LATIN)" in warning["message"]
    assert "row 4" not in warning["message"] and "row 6" not in warning["message"]


def test_plain_addresses_give_no_such_warning(make_tenant, import_ok):
    job = import_ok(make_tenant(), [["email"], ["anna@example.com"], [UMLAUTS]], BY_EMAIL)
    assert all(w["code"] != "mixed_script_address" for w in job["warnings"])


def test_the_worker_process_and_the_importer_name_the_first_rows(make_tenant, import_ok, monkeypatch):
    # Batches of 2 rows: the worker checks batches 0-2 and 5, the importer 3 and 4 (3 of every 5).
    monkeypatch.setattr(checking, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(checking, "BATCH_ROWS", 2)
    rows = [["email"]] + [[f"p\u0430ypal{n}@example.com" if n % 2 else f"plain{n}@example.com"]
                          for n in range(30)]
    warning = _mixed(import_ok(make_tenant(), rows, BY_EMAIL))
    assert warning["count"] == 15
    named = [f"row {n + 2} p\u0430ypal{n}@example.com" for n in range(1, 30, 2)]
    assert all(name in warning["message"] for name in named[:10])
    assert named[10] not in warning["message"] and "and 5 more" in warning["message"]


def test_the_review_page_shows_the_warning(app, engine, make_tenant):
    client = signed_in(app, engine, make_tenant().id, "anna@acme.example")
    token = csrf_token(client.get("/imports/new"))
    content = "".join(f"{cells[0]}\r\n" for cells in ROWS).encode()
    draft = client.post("/imports/new", data={"csrf_token": token, "file": (io.BytesIO(content), "c.csv")},
                        content_type="multipart/form-data").headers["Location"]
    base = draft.rsplit("/", 1)[0]
    client.post(f"{base}/file", data={"csrf_token": token, "encoding": "utf-8", "delimiter": "comma",
                                      "has_header": "yes", "action": "next"})
    client.post(f"{base}/options", data={"csrf_token": token, "mode": "upsert"})
    client.post(f"{base}/external-id", data={"csrf_token": token, "link": ""})
    assert client.post(f"{base}/fields", data={"csrf_token": token, "field_0": "email"}).status_code == 302
    deadline = time.monotonic() + 30
    while "mixed_script" not in (page := client.get(f"{base}/review").get_data(as_text=True)):
        assert time.monotonic() < deadline, page
        time.sleep(0.1)
    assert "paypal@p\u0430ypal.com" in page and "2 addresses mix scripts within one word" in page


def test_the_wizard_limits_uploads_per_user(app, engine, make_tenant):
    app.config["UPLOADS_PER_WINDOW"] = 1
    tenant = make_tenant()
    client = signed_in(app, engine, tenant.id, "anna@acme.example")

    def upload():  # type: ignore[no-untyped-def]
        token = csrf_token(client.get("/imports/new"))
        return client.post("/imports/new", data={"csrf_token": token, "file": (
            io.BytesIO(b"email\r\nw1@example.nl\r\n"), "w.csv")}, content_type="multipart/form-data")

    assert upload().status_code == 302
    refused = upload()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many uploads. Wait " in refused.get_data(as_text=True)
    other = signed_in(app, engine, tenant.id, "piet@acme.example")
    token = csrf_token(other.get("/imports/new"))
    answer = other.post("/imports/new", data={"csrf_token": token, "file": (
        io.BytesIO(b"email\r\nw1@example.nl\r\n"), "w.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 302  # another user counts on their own
