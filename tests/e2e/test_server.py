"""The service as users run it: `safeguard serve` (gunicorn, several worker processes) over real HTTP."""

from __future__ import annotations

import os
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import HttpClient, free_port, safeguard_command, serving

pytestmark = pytest.mark.usefixtures("no_worker_in_the_test")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[HttpClient]:
    """`safeguard serve` with two worker processes on a free port, against the test database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "uploads"),
           "SAFEGUARD_MAX_UPLOAD_MB": "1"}
    with serving([*safeguard_command(), "serve", "--port", str(port), "--workers", "2"], port=port, env=env,
                 log=tmp_path / "server.log") as server:
        yield server


def test_the_served_app_answers(server, make_tenant):
    tenant = make_tenant()
    home = server.request("GET", "/")
    assert home.status == 200 and b"Mailing safeguard" in home.body
    status, account = server.json("GET", "/api/v1/account", key=tenant.keys["send"])
    assert status == 200 and account["name"] == tenant.name
    status, error = server.json("GET", "/api/v1/account")
    assert status == 401 and error["error"]["code"] == "unauthorized"
    status, document = server.json("GET", "/api/v1/openapi.json")
    assert status == 200 and "/api/v1/imports" in document["paths"]


def test_a_background_import_over_http(server, make_tenant, contacts_of):
    """Progress is read from whichever worker process answers; the job runs in the one that took it."""
    tenant = make_tenant()
    content = b"email\r\n" + b"".join(b"person%d@example.nl\r\n" % i for i in range(20000))
    status, job = server.upload("/api/v1/imports", tenant.keys["manage"], content,
                                {"mapping": {"email": "email"}})
    assert status == 202, job
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        status, job = server.json("GET", f"/api/v1/imports/{job['id']}", key=tenant.keys["manage"])
        assert status == 200, job
    assert job["status"] == "succeeded", job
    assert job["progress"]["rows_done"] == job["report"]["rows"] == 20000
    assert len(contacts_of(tenant.id)) == 20000


def test_an_upload_over_the_limit_is_refused_with_json(server, make_tenant, contacts_of):
    tenant = make_tenant()
    content = b"email\r\n" + b"".join(b"person%07d@example.nl\r\n" % i for i in range(60000))
    assert len(content) > 1024 * 1024
    try:
        status, error = server.upload("/api/v1/imports?wait=true", tenant.keys["manage"], content,
                                      {"mapping": {"email": "email"}})
    except (ConnectionError, urllib.error.URLError) as reset:
        pytest.fail(f"the server dropped the connection instead of answering 413: {reset}")
    assert status == 413, error
    assert error["error"]["code"] == "payload_too_large"
    assert "1 MB" in error["error"]["message"]
    assert contacts_of(tenant.id) == []
