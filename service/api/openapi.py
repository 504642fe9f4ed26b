"""The OpenAPI document, made from the endpoints' declarations and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from importer.vocabulary import DedupMode
from service.api.mailings import IDEMPOTENCY_KEY_LENGTH
from service.api.routing import ENDPOINTS, Endpoint, api
from service.api.send_lists import LIST_FORMATS
from service.models import ErrorBody, Scope

SCOPE_NOTE: dict[str | None, str] = {None: "any key", Scope.MANAGE: "a manage (or admin) key",
                                     Scope.SEND: "a send key", Scope.ADMIN: "an admin key"}
# Query parameters by name, typed as the views read them (service/api/routing.py page_args and
# query_flag); an endpoint's own `choices` come first.
BOOLEAN = {"type": "boolean"}
QUERY_TYPES: dict[str, dict[str, Any]] = {
    "cursor": {"type": "integer", "minimum": 0},
    "wait": BOOLEAN, "bom": BOOLEAN, "allow_shared_address": BOOLEAN,
    "format": {"type": "string", "enum": list(LIST_FORMATS)},
    "to": {"type": "string", "enum": list(DedupMode)},
}
REQUIRED_QUERY = ("to",)
HEADER_TYPES: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_LENGTH},
}
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def openapi_document() -> dict[str, Any]:
    models = {m for e in ENDPOINTS for m in (e.body, e.response) if m is not None} | {ErrorBody}
    refs, definitions = models_json_schema(
        [(m, "validation" if _is_body(m) else "serialization") for m in sorted(models, key=str)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict] = {}
    for e in ENDPOINTS:
        paths.setdefault("/api/v1" + e.path, {})[e.method] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mailing safeguard", "version": "1"},
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _is_body(model: type) -> bool:
    return any(e.body is model for e in ENDPOINTS)


def _operation(e: Endpoint, refs: dict) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": e.summary,
        "description": f"Needs {SCOPE_NOTE[e.scope]}.",
        "parameters": _parameters(e),
        "responses": {**_success(e, refs), **_errors(e)},
    }
    if e.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(e.body, "validation")]}}}
    if e.multipart:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {name: ({"type": "string", "format": "binary", "description": text}
                                  if name == "file" else {"type": "string", "description": text})
                           for name, text in e.multipart.items()},
        }}}}
    return operation


def _parameters(e: Endpoint) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
        for name in _path_parameters(e.path)
    ] + [
        {"name": name, "in": "query", "required": name in REQUIRED_QUERY, "description": text,
         "schema": _query_schema(e, name)}
        for name, text in e.query.items()
    ] + [
        {"name": name, "in": "header", "required": False, "description": text,
         "schema": HEADER_TYPES.get(name, {"type": "string"})}
        for name, text in e.headers.items()
    ]


def _query_schema(e: Endpoint, name: str) -> dict[str, Any]:
    if name in e.choices:
        return {"type": "string", "enum": list(e.choices[name])}
    if name == "limit":
        return {"type": "integer", "minimum": 1, **({"maximum": e.page_limit} if e.page_limit else {})}
    return QUERY_TYPES.get(name, {"type": "string"})


def _success(e: Endpoint, refs: dict) -> dict[str, Any]:
    """The answers when it works: a model, CSV (the lists with ?format=csv too) or no content."""
    if e.status == 204:
        return {"204": {"description": "done; no content"}}
    csv = {"text/csv": {"schema": {"type": "string"}}}
    if e.response is None:
        return {str(e.status): {"description": "success",
                                "content": {e.content_type: {"schema": {"type": "string"}}}}}
    content: dict[str, Any] = {e.content_type: {"schema": refs[(e.response, "serialization")]}}
    if "format" in e.query:
        content.update(csv)
    answers = {str(e.status): {"description": "success", "content": content}}
    if "wait" in e.query:  # POST /imports?wait=true answers when the import is done
        answers["200"] = {"description": "done (with ?wait=true)", "content": content}
    return answers


def _errors(e: Endpoint) -> dict[str, Any]:
    """The error answers, each where it can occur; every one is the envelope."""
    errors: dict[str, Any] = {
        "400": {"description": "invalid request", **ERROR},
        "401": {"description": "missing or unknown key", **ERROR},
        "403": {"description": "the key's scope does not allow this", **ERROR},
        "404": {"description": "not found (or another account's)", **ERROR},
    }
    if e.conflicts:
        errors["409"] = {"description": "conflict; error codes: " + ", ".join(e.conflicts), **ERROR}
    limits = [e.limits] if e.limits else []
    if e.body is not None:
        limits.append("the body's size (SAFEGUARD_MAX_BODY_MB)")
    if e.multipart:
        limits.append("the upload's size (SAFEGUARD_MAX_UPLOAD_MB; error code payload_too_large)")
    if limits:
        errors["413"] = {"description": "over a limit; error code limit_exceeded, the message names the "
                                        "limit and its setting. Limits: " + "; ".join(limits), **ERROR}
    if e.multipart:
        errors["429"] = {"description": "too_many_requests: the key's uploads reached "
                                        "SAFEGUARD_UPLOADS_PER_WINDOW; try again after Retry-After seconds",
                         "headers": {"Retry-After": {"schema": {"type": "integer"}}}, **ERROR}
    if e.method != "get":
        errors["503"] = {"description": "busy: the database is busy with a long write (SQLite); try "
                                        "again after Retry-After seconds",
                         "headers": {"Retry-After": {"schema": {"type": "integer"}}}, **ERROR}
    return errors


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@api.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    return openapi_document()
