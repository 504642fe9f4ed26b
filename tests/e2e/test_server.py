"""The service as users run it: `safeguard serve` (gunicorn, several worker processes) over real HTTP."""

from __future__ import annotations

import os
import re
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import HttpClient, free_port, safeguard_command, serving
from sqlmodel import Session

from service.domain.users import create_user
from service.models import Account

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


def _csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _sign_in(server: HttpClient, email: str, password: str):  # type: ignore[no-untyped-def]
    token = _csrf_token(server.request("GET", "/sign-in").text)
    return server.request("POST", "/sign-in", form={"email": email, "password": password,
                                                    "csrf_token": token})


def test_sessions_end_at_sign_out_and_sign_in_is_limited_over_http(server, make_tenant, engine):
    """Issue 11, findings 13 and 14, over real HTTP to gunicorn's two workers (one server for both: each
    start costs seconds): a copied cookie is refused after sign-out, and after the default 10 failures the
    right password is refused too, both counted and kept in the database whichever worker answers."""
    with Session(engine) as session:
        create_user(session, account=session.get(Account, make_tenant().id), email="anna@acme.example",
                    password="a long secret")
    signed_in = _sign_in(server, "anna@acme.example", "a long secret")
    assert signed_in.status == 200 and signed_in.url.endswith("/") and "Sign out" in signed_in.text
    thief = HttpClient(server.base)
    thief.cookies.set_cookie(server.cookie("session"))
    for _ in range(4):  # whichever worker answers
        assert thief.request("GET", "/imports/new").url.endswith("/imports/new")
    signed_out = server.request("POST", "/sign-out", form={"csrf_token": _csrf_token(signed_in.text)})
    assert signed_out.url.endswith("/sign-in")
    for _ in range(4):
        replayed = thief.request("GET", "/imports/new")
        assert replayed.status == 200 and "/sign-in?next=" in replayed.url and "Sign in" in replayed.text

    for n in range(10):
        assert _sign_in(server, "anna@acme.example", f"wrong {n}").status == 401
    refused = _sign_in(server, "anna@acme.example", "a long secret")
    assert refused.status == 429 and 0 < int(refused.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins. Wait 15 minutes" in refused.text
