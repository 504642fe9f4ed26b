"""The service as users run it: `safeguard serve` (gunicorn, several worker processes) over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _safeguard() -> list[str]:
    script = Path(sys.executable).parent / "safeguard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import main; main()"]


class Server:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(self, method: str, path: str, *, key: str | None = None, body: bytes | None = None,
                content_type: str | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, **kwargs) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
        status, _, body = self.request(method, path, **kwargs)
        return status, json.loads(body)

    def upload(self, path: str, key: str, content: bytes, settings: dict) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"settings\"\r\n\r\n"
                f"{json.dumps(settings)}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"contacts.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() + content + (
                f"\r\n--{boundary}--\r\n").encode()
        return self.json("POST", path, key=key, body=body,
                         content_type=f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """`safeguard serve` with two worker processes on a free port, against the test database."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "uploads"),
           "SAFEGUARD_MAX_UPLOAD_MB": "1"}
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([*_safeguard(), "serve", "--port", str(port), "--workers", "2"], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if server.request("GET", "/")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_the_served_app_answers(server, make_tenant):
    tenant = make_tenant()
    status, headers, body = server.request("GET", "/")
    assert status == 200 and b"Mailing safeguard" in body
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
