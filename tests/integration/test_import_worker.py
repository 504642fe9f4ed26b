"""Large files are read by a worker process and checked by it and the importer together: same
results, same errors as in-process checks."""

import pytest

from importer import checking


@pytest.fixture
def always_in_worker(monkeypatch):
    monkeypatch.setattr(checking, "WORKER_MIN_BYTES", 0)


def _rows(count: int) -> list[list[str]]:
    rows = [["klantnr", "email", "first_name", "birth_date"]]
    for i in range(count):
        address = "shared@example.nl" if i % 10 == 0 else f"person{i}@example.nl"
        rows.append([str(1000 + i), address if i % 97 else "not-an-address", f"Name{i}", "31-12-1999"])
    return rows


SETTINGS = {"match": {"by": "external_id", "link": "crm", "column": "klantnr"},
            "mapping": {"email": "email", "first_name": "first_name", "birth_date": "birth_date"}}


def test_worker_and_in_process_checks_give_the_same_import(make_tenant, post_import, contacts_of,
                                                           monkeypatch):
    fields = {"first_name": "text", "birth_date": "date"}
    here, there = (make_tenant(name, "external_id", links={"crm": None}, fields=fields)
                   for name in ("here", "there"))
    rows = _rows(25_000)
    in_process = post_import(here, rows, SETTINGS).json
    monkeypatch.setattr(checking, "WORKER_MIN_BYTES", 0)
    # Small batches, so that both the worker and the importer check several of them.
    monkeypatch.setattr(checking, "BATCH_ROWS", 1_000)
    in_worker = post_import(there, rows, SETTINGS).json
    assert in_worker["status"] == in_process["status"] == "succeeded"
    assert in_worker["report"] == in_process["report"]
    assert in_worker["report"]["rejected_by_reason"] == {"invalid_email": 258}
    assert in_worker["warnings"] == in_process["warnings"]

    def comparable(tenant):  # type: ignore[no-untyped-def]
        return [(c["address_key"], c["attributes"], c["ids"]) for c in contacts_of(tenant.id)]

    assert comparable(there) == comparable(here)


def test_a_file_the_worker_cannot_read_fails_the_import_and_changes_nothing(
        always_in_worker, make_tenant, post_import, contacts_of):
    tenant = make_tenant("acme", "external_id", links={"crm": None},
                         fields={"first_name": "text", "birth_date": "date"})
    good = "\r\n".join(";".join(r) for r in _rows(20_000)).encode("utf-8")
    broken = good + b"\r\n99999;late@example.nl;\xff\xfe\xfa;01-01-2000\r\n"
    response = post_import(tenant, broken, {**SETTINGS, "encoding": "utf-8", "delimiter": ";"})
    job = response.json
    assert job["status"] == "failed", job
    assert "row" in job["error"] and "utf-8" in job["error"].lower()
    assert contacts_of(tenant.id) == []


def test_an_unreadable_row_in_a_batch_for_the_importer_fails_the_import(make_tenant, post_import,
                                                                        contacts_of, monkeypatch):
    """The bad row falls in a batch that the worker passes on for the importer to check."""
    monkeypatch.setattr(checking, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(checking, "BATCH_ROWS", 1_000)
    tenant = make_tenant("acme", "external_id", links={"crm": None},
                         fields={"first_name": "text", "birth_date": "date"})
    rows = "\r\n".join(";".join(r) for r in _rows(3_500)).encode("utf-8")
    broken = rows + b"\r\n99999;late@example.nl;\xff\xfe\xfa;01-01-2000\r\n" + rows.split(b"\r\n", 1)[1]
    response = post_import(tenant, broken, {**SETTINGS, "encoding": "utf-8", "delimiter": ";"})
    job = response.json
    assert job["status"] == "failed", job
    assert "row 3502" in job["error"] and "utf-8" in job["error"].lower()
    assert contacts_of(tenant.id) == []
