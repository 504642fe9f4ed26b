"""Errors over HTTP: the API's JSON envelope `{"error": {"code", "message"}}` and the pages' error page.

The one place (with the API and the pages themselves) that knows HTTP status codes: the domain
raises the errors of service/errors.py, and this module says each of them as a status, an
envelope for API clients, or a styled page for a person in a browser. Never a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from importer.said import said
from service.errors import (
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooLarge,
    TooManyAttempts,
)
from service.words import gettext, lazy_gettext, say

log = logging.getLogger(__name__)

STATUS_OF: dict[type[DomainError], int] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    TooManyAttempts: 429,
    Busy: 503,
}

# The API's codes for errors that Werkzeug raises before a view runs (routing, limits, methods).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}

# What the error page says for a status, when the error itself has nothing better to say.
# (The pages' texts are in the language of the page: lazy, translated when the page is rendered.)
PAGE_TEXTS = {
    400: (lazy_gettext("This request cannot be used"),
          lazy_gettext("Something in it is missing or not valid. Go back and try again.")),
    403: (lazy_gettext("This is not allowed"), lazy_gettext("Your account may not do this.")),
    404: (lazy_gettext("Not found"),
          lazy_gettext("This page does not exist, or it belongs to another account.")),
    405: (lazy_gettext("This page cannot do that"),
          lazy_gettext("Go back to the page you came from and use its buttons.")),
    413: (lazy_gettext("This is too large"),
          lazy_gettext("It is over one of the limits that protect the service.")),
    429: (lazy_gettext("Too many attempts"), lazy_gettext("Wait a while, then try again.")),
    500: (lazy_gettext("Something went wrong"),
          lazy_gettext("An unexpected error occurred; it has been logged. Try again in a moment, or go "
                       "back to the home page.")),
    503: (lazy_gettext("The service is busy"),
          lazy_gettext("It is busy with a long write (an import or a dedup change). Try again in a moment.")),
}


def status_of(error: DomainError) -> int:
    """The HTTP status that says this domain error."""
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 400


def error_response(status: int, code: str, message: str) -> Response:
    """The API's error envelope."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def error_page(status: int, title: str | None = None, message: str | None = None) -> tuple[str, int]:
    """The styled error page, for a person in a browser."""
    default_title, default_message = PAGE_TEXTS.get(status, PAGE_TEXTS[500 if status >= 500 else 400])
    return render_template("error.html", user=g.get("user"), account=g.get("account"),
                           title=title or default_title, message=message or default_message), status


def in_words(message: str) -> str:
    """A domain message as a sentence on a page, in its language: a capital first, a full stop last."""
    message = say(message)
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def describe_validation_error(error: ValidationError) -> str:
    """Say what is wrong with a request body in one line."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _size(limit: int | None) -> str:
    """Say a byte count the way a person reads it (a limit under 1 MB must not read "0 MB")."""
    limit = limit or 0
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= size:
            return f"{limit / size:.3g} {unit}"
    return f"{limit} bytes"


def _for_api() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    """Answer every error as the API's envelope (under /api/) or as the error page (elsewhere)."""

    @app.errorhandler(DomainError)
    def on_domain_error(error: DomainError) -> Response | tuple[str, int]:
        status = status_of(error)
        if not _for_api():
            body, status = error_page(status, message=in_words(error.message) if status != 404 else None)
            response = Response(body, status, mimetype="text/html")
        else:
            response = error_response(status, error.code, error.message)
        if isinstance(error, Busy | TooManyAttempts):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(ValidationError)
    def on_validation_error(error: ValidationError) -> Response | tuple[str, int]:
        if not _for_api():
            return error_page(400)
        return error_response(400, "invalid_request", describe_validation_error(error))

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        # request.max_content_length: an upload's limit, or the smaller one of other bodies.
        what = "the upload" if request.mimetype == "multipart/form-data" else "the request body"
        too_large = f"{what} is larger than the limit of {_size(request.max_content_length)}"
        if not _for_api():
            size = _size(request.max_content_length)
            page_message = (gettext("The upload is larger than the limit of %(size)s.", size=size)
                            if request.mimetype == "multipart/form-data"
                            else gettext("The form is larger than the limit of %(size)s.", size=size))
            return error_page(status, message=page_message if status == 413 else None)
        message = too_large if status == 413 else (error.description or error.name)
        response = error_response(status, HTTP_CODES.get(status, "http_error"), message)
        # Keep the error's own headers, such as a 405's Allow (required) or a 401's WWW-Authenticate.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    def on_database_busy(error: OperationalError) -> Response | tuple[str, int]:
        # SQLite's busy timeout ran out behind a long write: worth a retry, not a 500.
        if "database is locked" not in str(error.orig):
            return on_unexpected(error)
        return on_domain_error(Busy(said("the database is busy with a long write (an import or a dedup "
                                         "change); try again in a moment")))

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _for_api():
            return error_page(500)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
