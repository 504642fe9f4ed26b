"""The one JSON error envelope of the API: `{"error": {"code", "message"}}`, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from segments.rules import RuleError

log = logging.getLogger(__name__)


class APIError(Exception):
    """An error answered to the client as it is."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str = "resource") -> APIError:
    return APIError(404, "not_found", f"{what} not found")


def error_response(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def describe_validation_error(error: ValidationError) -> str:
    """Say what is wrong with a request body in one line."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _size(limit: int | None) -> str:
    """Say a byte count the way a person reads it (a limit under 1 MB must not read "0 MB")."""
    limit = limit or 0
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= size:
            return f"{limit / size:.3g} {unit}"
    return f"{limit} bytes"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(APIError)
    def on_api_error(error: APIError):  # type: ignore[no-untyped-def]
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(ValidationError)
    def on_validation_error(error: ValidationError):  # type: ignore[no-untyped-def]
        return error_response(400, "invalid_request", describe_validation_error(error))

    @app.errorhandler(RuleError)
    def on_rule_error(error: RuleError):  # type: ignore[no-untyped-def]
        return error_response(400, "invalid_request", str(error))

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if not request.path.startswith("/api/"):
            return error
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            message = f"the upload is larger than the limit of {_size(app.config.get('MAX_CONTENT_LENGTH'))}"
        response = error_response(status, HTTP_CODES.get(status, "http_error"), message)
        # Keep the error's own headers, such as a 405's Allow (required) or a 401's WWW-Authenticate.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    def on_database_busy(error: OperationalError):  # type: ignore[no-untyped-def]
        # SQLite's busy timeout ran out behind a long write: worth a retry, not a 500.
        if "database is locked" not in str(error.orig):
            return on_unexpected(error)
        response = error_response(503, "busy", "the database is busy with a long write (an import "
                                               "or a dedup change); try again in a moment")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
