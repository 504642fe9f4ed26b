"""Around every request: its id (X-Request-ID, taken or made, and returned), its metrics and its log line.

The id a client sends is kept when it is short and plain (letters, digits, `-_.:`), so that one
request can be followed through a proxy, the service and its log; anything else is replaced by a
made one, so that no header can forge a log line or grow it without bound.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import inspect
from sqlalchemy.exc import NoInspectionAvailable

from service import logs, metrics

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_LENGTH = 64
PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]+")
request_log = logging.getLogger("safeguard.requests")


def request_id(header: str | None) -> str:
    """The client's id when it is plain and at most 64 characters, else a new one."""
    if header and len(header) <= REQUEST_ID_LENGTH and PLAIN_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Configure the root logger, and time, count and log every request of the app."""
    logs.configure(app.config.get("LOG_LEVEL", "INFO"))
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER))


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics.observe_request(request.method, endpoint, response.status_code, seconds)
    rid = g.get("request_id") or request_id(None)
    response.headers[REQUEST_ID_HEADER] = rid
    request_log.info("%s %s %s", request.method, endpoint, response.status_code, extra={"fields": {
        "request_id": rid, "method": request.method, "path": logs.masked_path(request.path),
        "endpoint": endpoint, "status": response.status_code, "duration_ms": round(seconds * 1000, 2),
        "account_id": _account_id(g.get("account"))}})
    return response


def _account_id(account: Any) -> int | None:
    """The account's id as the session knows it, without a query: after a failed write the
    session has expired its objects, and reading `account.id` would ask the database again (and
    fail, turning the answer into a 500)."""
    if account is None:
        return None
    try:
        identity = inspect(account).identity
    except NoInspectionAvailable:
        return getattr(account, "id", None)
    return int(identity[0]) if identity else None
