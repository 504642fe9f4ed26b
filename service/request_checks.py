"""Checks every request passes before any view reads it: the one place that refuses a NUL character.

PostgreSQL cannot store a NUL in text (SQLite stores it, and a spreadsheet or a mailing system
then chokes on it), and no name, address, ID or setting of ours can hold one: so a NUL in a query
parameter, a form field, an upload's name or a header is a 400 here, for the API and the pages
alike. JSON bodies are checked where they are parsed (service/safe_json.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, request

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


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
