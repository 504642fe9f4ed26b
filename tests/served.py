"""The service served for tests as users run it: `safeguard serve` in a process of its own, over real HTTP.

`serving` starts the command in a process group of its own and, when the block ends (also on a failure),
stops the whole group, so that no gunicorn worker outlives the test. `HttpClient` is a real HTTP client
(the standard library's urllib) that keeps cookies like a browser and sends API keys.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

STARTUP_SECONDS = 60
STOP_SECONDS = 30


def safeguard_command() -> list[str]:
    """The `safeguard` command of this environment (its script, else the module through this Python)."""
    script = Path(sys.executable).parent / "safeguard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import main; main()"]


def free_port() -> int:
    """A TCP port that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str  # where the request ended, after redirects

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def multipart(fields: Mapping[str, str], file: tuple[str, str, bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body with text `fields` and one (name, filename, content) file; and its type."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    name, filename, content = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class HttpClient:
    """Requests to one server; cookies are kept between requests, redirects are followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def cookie(self, name: str) -> Cookie:
        """The cookie the server set under this name (a copy can be given to another client)."""
        [found] = [cookie for cookie in self.cookies if cookie.name == name]
        return found

    def request(self, method: str, path: str, *, key: str | None = None, body: bytes | None = None,
                content_type: str | None = None, form: Mapping[str, str] | None = None,
                payload: Any = None, headers: Mapping[str, str] | None = None) -> Response:
        """Send a request and return the answer, errors included. The body is `body`, or `form` (URL-encoded)
        or `payload` (JSON); `headers` are sent as well."""
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if form is not None:
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        if payload is not None:
            body, content_type = json.dumps(payload).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=60) as answer:
                return Response(answer.status, dict(answer.headers), answer.read(), answer.url)
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read(), error.url)

    def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        answer = self.request(method, path, **kwargs)
        return answer.status, answer.json()

    def upload(self, path: str, key: str, content: bytes, settings: dict) -> tuple[int, Any]:
        """POST a CSV file and its import settings to the API."""
        body, content_type = multipart({"settings": json.dumps(settings)}, ("file", "contacts.csv", content))
        return self.json("POST", path, key=key, body=body, content_type=content_type)


@contextmanager
def serving(command: list[str], *, port: int, env: Mapping[str, str], log: Path,
            cwd: Path | None = None) -> Iterator[HttpClient]:
    """Run a server command until it answers on `port`; stop its whole process group afterwards."""
    with started(command, env=env, log=log, cwd=cwd) as process:
        client = HttpClient(f"http://127.0.0.1:{port}")
        _wait_until_answering(client, process, log)
        yield client


@contextmanager
def started(command: list[str], *, env: Mapping[str, str], log: Path,
            cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """Run a command (a server, a job worker) in a process group of its own; stop the whole group
    afterwards, also when the block fails."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            yield process
        finally:
            _stop_group(process)


def wait_until_answering(port: int, process: subprocess.Popen, log: Path) -> HttpClient:
    """A client of the server `process` started, once it answers on `port`."""
    client = HttpClient(f"http://127.0.0.1:{port}")
    _wait_until_answering(client, process, log)
    return client


def _wait_until_answering(client: HttpClient, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if client.request("GET", "/").status == 200:
                return
        except OSError:
            pass  # not listening yet
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop the server's process group: gently, then whatever is left of it (a worker without its master)."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(group: int, signum: signal.Signals) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass  # the group is gone already
