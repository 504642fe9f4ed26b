"""The OpenAPI document, made from the endpoints' declarations and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from service.api.routing import ENDPOINTS, Endpoint, api
from service.models import ErrorBody, Scope

SCOPE_NOTE: dict[str | None, str] = {None: "any key", Scope.MANAGE: "a manage (or admin) key",
                                     Scope.SEND: "a send key", Scope.ADMIN: "an admin key"}


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
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    operation: dict[str, Any] = {
        "summary": e.summary,
        "description": f"Needs {SCOPE_NOTE[e.scope]}.",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
            for name in _path_parameters(e.path)
        ] + [
            {"name": name, "in": "query", "required": False, "description": text,
             "schema": {"type": "string", **({"enum": list(e.choices[name])} if name in e.choices else {})}}
            for name, text in e.query.items()
        ],
        "responses": {
            "401": {"description": "missing or unknown key", **error},
            "403": {"description": "the key's scope does not allow this", **error},
            "404": {"description": "not found (or another account's)", **error},
            "400": {"description": "invalid request", **error},
        },
    }
    if e.conflicts:
        operation["responses"]["409"] = {"description": "conflict; error codes: " + ", ".join(e.conflicts),
                                         **error}
    limits = [e.limits] if e.limits else []
    if e.body:
        limits.append("the body's size (SAFEGUARD_MAX_BODY_MB)")
    if e.multipart:
        limits.append("the upload's size (SAFEGUARD_MAX_UPLOAD_MB; error code payload_too_large)")
    if limits:
        operation["responses"]["413"] = {
            "description": "over a limit; error code limit_exceeded, the message names the limit and its "
                           "setting. Limits: " + "; ".join(limits), **error}
    if e.status == 204:
        operation["responses"]["204"] = {"description": "done; no content"}
    elif e.response is not None:
        schema = refs[(e.response, "serialization")]
        operation["responses"][str(e.status)] = {
            "description": "success", "content": {e.content_type: {"schema": schema}}}
    elif e.status == 204:
        operation["responses"]["204"] = {"description": "done; no content"}
    else:
        operation["responses"][str(e.status)] = {
            "description": "success", "content": {e.content_type: {"schema": {"type": "string"}}}}
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
        operation["responses"]["429"] = {
            "description": "too_many_requests: the key's uploads reached SAFEGUARD_UPLOADS_PER_WINDOW; "
                           "the Retry-After header gives the seconds to wait", **error}
    return operation


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@api.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    return openapi_document()
