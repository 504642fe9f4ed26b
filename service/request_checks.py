"""Checks every request passes before any view reads it: the one place that refuses a NUL character
(and a query string that is not UTF-8), and a body over the limit.

PostgreSQL cannot store a NUL in text (SQLite stores it, and a spreadsheet or a mailing system
then chokes on it), and no name, address, ID or setting of ours can hold one: so a NUL in a query
parameter, a form field, an upload's name or a header is a 400 here, for the API and the pages
alike. JSON bodies are checked where they are parsed (service/safe_json.py).

A body other than an upload (multipart) is refused past SAFEGUARD_MAX_BODY_MB before it is read,
and the app's rule-tree limits are set for every request and command (service/limits.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, appcontext_pushed, current_app, request

from segments.rules import RULE_LIMITS
from service import limits
from service.errors import InvalidInput

NUL = "\x00"


def _first_with_nul(parts: Iterable[tuple[str, str | None, str | None]]) -> str | None:
    """The description of the first (where, name, value) whose name or value holds a NUL."""
    for where, part_name, value in parts:
        name = part_name or ""  # a multipart part may come without a name
        if NUL in name or (value is not None and NUL in value):
            return f"{where} '{name.replace(NUL, '?')}'"
    return None


def refuse_nul() -> None:
    """Refuse a request with a NUL character in its query, form fields, upload names or headers."""
    parts: list[tuple[str, str | None, str | None]] = [("query parameter", k, v)
                                                for k, v in request.args.items(multi=True)]
    parts += [("header", k, v) for k, v in request.headers.items()]
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        parts += [("form field", k, v) for k, v in request.form.items(multi=True)]
        parts += [("upload name of", k, f.filename) for k, f in request.files.items(multi=True)]
    found = _first_with_nul(parts)
    if found:
        raise InvalidInput(f"the {found} holds a NUL character, which no text here may hold",
                           code="invalid_characters")


def limit_body() -> None:
    """Refuse a body (not an upload: MAX_CONTENT_LENGTH bounds those) over the body limit."""
    if request.mimetype == "multipart/form-data":
        return
    most = min(current_app.config["MAX_BODY_BYTES"], current_app.config.get("MAX_CONTENT_LENGTH") or 2**63)
    if (request.content_length or 0) > most:
        raise limits.over_limit(f"the request body is larger than {most / 1024**2:g} MB", "max_body_bytes")
    request.max_content_length = most  # a body sent without a length stops there too


def refuse_undecodable_query() -> None:
    """Refuse a query string that is not UTF-8 once unquoted (`?address=%FF`): Werkzeug would
    read it with U+FFFD in place of the bytes, and a lookup would answer "none" for it."""
    try:
        unquote_to_bytes(request.query_string.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the query string is not UTF-8 text once unquoted",
                           code="invalid_characters") from None


def init_app(app: Flask) -> None:
    app.before_request(limit_body)
    app.before_request(refuse_nul)
    app.before_request(refuse_undecodable_query)
    rule_limits = limits.rule_limits(app.config)

    def use_rule_limits(_sender: Flask, **_extra: Any) -> None:
        RULE_LIMITS.set(rule_limits)

    appcontext_pushed.connect(use_rule_limits, app, weak=False)
