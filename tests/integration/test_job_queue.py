"""The import queue in one process, on both databases: claims, leases, retries, letting go, uploads kept
in the database and removed when their job ends. Across processes and hosts: tests/e2e/test_instances.py."""

from __future__ import annotations

import gzip
import io
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from importer.reading import inspect_file
from service import background
from service.domain import imports, job_queue, uploads
from service.domain.uploads import CHUNK_BYTES, StoredFile
from service.worker import run_or_wait

NO_LEASE = timedelta(0)  # a lease that has run out as soon as it is given
LEASE = timedelta(minutes=5)


def _queue(client, tenant, rows: int = 3):  # type: ignore[no-untyped-def]
    """POST an import without waiting, with the app's own worker stopped: the job stays queued."""
    content = b"email\r\n" + b"".join(b"q%d@example.nl\r\n" % i for i in range(rows))
    response = client.post("/api/v1/imports", data={"file": (io.BytesIO(content), "q.csv"),
                                                     "settings": '{"mapping": {"email": "email"}}'},
                           headers=tenant.auth(), content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    return response.json


@pytest.fixture
def idle(app):  # type: ignore[no-untyped-def]
    """The app without its in-process worker: the test is the worker."""
    background.shutdown(app)
    return app


def _job(engine, job_id: int) -> dict:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT status, attempts, worker, error, upload_id FROM imports "
                                      "WHERE id = :i"), {"i": job_id}).mappings().one())


def _count(engine, tenant) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM contacts WHERE account_id = :a"),
                            {"a": tenant.id}).scalar_one()


def test_a_job_is_claimed_once_and_shows_its_attempts(idle, client, engine, make_tenant):
    tenant = make_tenant()
    job = _queue(client, tenant)
    assert (job["status"], job["attempts"]) == ("queued", 0)
    assert job_queue.claim(engine, "host-a:1", LEASE) == job["id"]
    assert job_queue.claim(engine, "host-b:2", LEASE) is None  # taken
    shown = client.get(f"/api/v1/imports/{job['id']}", headers=tenant.auth()).json
    assert (shown["status"], shown["attempts"]) == ("running", 1)


def test_a_lost_job_is_retried_then_failed_after_three_attempts(idle, client, engine, make_tenant):
    tenant = make_tenant()
    job_id = _queue(client, tenant)["id"]
    for attempt in (1, 2, 3):
        assert job_queue.claim(engine, f"gone-host:{attempt}", NO_LEASE) == job_id
        assert _job(engine, job_id)["attempts"] == attempt
        job_queue.requeue_lost(engine)
    shown = client.get(f"/api/v1/imports/{job_id}", headers=tenant.auth()).json
    assert (shown["status"], shown["attempts"]) == ("failed", 3), shown
    assert "interrupted 3 times" in shown["error"]
    assert job_queue.claim(engine, "host-c:4", LEASE) is None
    assert _count(engine, tenant) == 0
    assert uploads.count(engine) == (0, 0)  # a failed job's file goes


def test_a_worker_that_lost_its_lease_rolls_its_import_back(idle, client, engine, make_tenant):
    """Two runs of one job (the first worker only paused): the rows are counted once."""
    tenant = make_tenant()
    job_id = _queue(client, tenant, rows=5)["id"]
    assert job_queue.claim(engine, "slow-host:1", NO_LEASE) == job_id
    job_queue.requeue_lost(engine)
    assert job_queue.claim(engine, "fast-host:2", LEASE) == job_id
    late = imports.run_job(engine, job_id, worker="slow-host:1")
    assert (late.status, _count(engine, tenant)) == ("running", 0)  # refused, rolled back
    done = imports.run_job(engine, job_id, worker="fast-host:2")
    assert (done.status, done.attempts, done.report["created"]) == ("succeeded", 2, 5)
    assert _count(engine, tenant) == 5
    assert uploads.count(engine) == (0, 0)  # the job ended: its file is gone


def test_a_stopping_worker_hands_its_job_back_uncounted(idle, client, engine, make_tenant):
    tenant = make_tenant()
    job_id = _queue(client, tenant)["id"]
    assert job_queue.claim(engine, "stopping-host:1", LEASE) == job_id
    handed = imports.run_job(engine, job_id, worker="stopping-host:1", cancelled=lambda: True)
    assert (handed.status, handed.attempts, handed.worker) == ("queued", 0, None)
    assert _count(engine, tenant) == 0 and uploads.count(engine)[0] == 1  # kept for the next worker
    assert job_queue.claim(engine, "next-host:2", LEASE) == job_id
    assert imports.run_job(engine, job_id, worker="next-host:2").status == "succeeded"
    assert _count(engine, tenant) == 3


def test_wait_true_waits_for_a_job_another_worker_runs(idle, client, engine, make_tenant):
    tenant = make_tenant()
    job_id = _queue(client, tenant)["id"]
    assert job_queue.claim(engine, "other-host:1", LEASE) == job_id
    runner = threading.Timer(0.5, imports.run_job, args=(engine, job_id), kwargs={"worker": "other-host:1"})
    runner.start()
    try:
        finished = run_or_wait(background.worker_of(idle), job_id)
    finally:
        runner.join()
    assert (finished.status, finished.worker) == ("succeeded", "other-host:1")


def test_the_apps_worker_runs_a_queued_import(client, engine, make_tenant):
    tenant = make_tenant()
    job = _queue(client, tenant)
    deadline = time.monotonic() + 30
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/v1/imports/{job['id']}", headers=tenant.auth()).json
    assert (job["status"], job["attempts"], job["report"]["created"]) == ("succeeded", 1, 3)
    assert uploads.count(engine) == (0, 0)


def test_an_upload_is_stored_in_chunks_and_read_back_as_it_was(engine, make_tenant):
    tenant = make_tenant()
    content = b"email\r\n" + b"".join(b"chunked%07d@example.nl\r\n" % i for i in range(120_000))
    packed = gzip.compress(content)
    assert len(content) > 2 * CHUNK_BYTES
    upload_id = uploads.store(engine, tenant.id, "big.csv", io.BytesIO(content))
    assert uploads.count(engine) == (1, -(-len(content) // CHUNK_BYTES))
    assert uploads.size_of(engine, upload_id) == len(content)
    with StoredFile(engine, upload_id).open_binary() as stream:
        assert stream.read() == content
    packed_id = uploads.store(engine, tenant.id, "big.csv.gz", io.BytesIO(packed))
    inspection = inspect_file(StoredFile(engine, packed_id))
    assert inspection.format.compressed and inspection.columns == ["email"]
    assert inspection.sample_rows[0] == ["chunked0000000@example.nl"]
    # Nothing names them and they are new: a request may still be handing them to a job; kept.
    assert uploads.sweep(engine) == 0


def test_the_wizards_upload_stays_for_its_import_then_goes(app, engine, make_tenant):
    from page_helpers import signed_in, wizard_draft

    tenant = make_tenant()
    client = signed_in(app, engine, tenant.id, "anna@acme.example")
    base, token = wizard_draft(client, b"email\r\nw1@example.nl\r\nw2@example.nl\r\n")
    form = {"csrf_token": token, "encoding": "utf-8", "delimiter": "comma", "has_header": "yes",
            "action": "next"}
    assert client.post(f"{base}/file", data=form).status_code == 302
    assert client.post(f"{base}/options", data={"csrf_token": token, "mode": "upsert"}).status_code == 302
    assert client.post(f"{base}/external-id", data={"csrf_token": token, "link": ""}).status_code == 302
    fields = client.post(f"{base}/fields", data={"csrf_token": token, "field_0": "email"})
    assert fields.status_code == 302, fields.data
    _until_ended(engine)
    assert uploads.count(engine)[0] == 1  # the dry run ended; the draft still needs the file
    report = client.post(f"{base}/review", data={"csrf_token": token})
    assert report.status_code == 302, report.data
    _until_ended(engine)
    assert uploads.count(engine) == (0, 0)
    assert _count(engine, tenant) == 2


def _until_ended(engine) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        with engine.connect() as conn:
            pending = conn.execute(text("SELECT count(*) FROM imports WHERE status IN ('queued', 'running')"
                                        )).scalar_one()
        if not pending:
            return
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_imports_are_queued_while_short_writes_run_on_sqlite(client, engine, make_tenant, database_url):
    """Issue 11 finding 18: on SQLite an import was refused with 503 `busy` while checks ran (each a
    short write by another connection, landing between the request's reads and its write)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    tenant = make_tenant()
    stop = threading.Event()

    def short_writes() -> None:  # as the checks make: many small transactions
        while not stop.is_set():
            with engine.execution_options(sqlite_immediate=True).begin() as conn:
                conn.execute(text("UPDATE accounts SET name = name WHERE id = :a"), {"a": tenant.id})
            time.sleep(0.001)

    writers = [threading.Thread(target=short_writes) for _ in range(2)]
    for writer in writers:
        writer.start()
    try:
        answers = [_status(client, tenant) for _ in range(8)]
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert answers == [202] * 8


def _status(client, tenant) -> int:  # type: ignore[no-untyped-def]
    content = b"email\r\n" + b"".join(b"busy%d@example.nl\r\n" % i for i in range(50))
    return client.post("/api/v1/imports", data={"file": (io.BytesIO(content), "b.csv"),
                                                "settings": '{"mapping": {"email": "email"}}'},
                       headers=tenant.auth(), content_type="multipart/form-data").status_code
