"""The API's blueprint and its endpoints, each declared once (the route, its scope, and the models
the OpenAPI document shows); reading a request's JSON body and query parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, request
from pydantic import BaseModel

from service.api.auth import requires
from service.downloads import DELIMITERS, csv_delimiter
from service.errors import InvalidInput
from service.models import MAX_ID

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    """What the OpenAPI document says of one endpoint."""

    method: str
    path: str  # OpenAPI form: /imports/{import_id}
    summary: str
    scope: str | None
    body: type[BaseModel] | None = None
    multipart: dict[str, str] = field(default_factory=dict)  # part -> description
    query: dict[str, str] = field(default_factory=dict)  # parameter -> description
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # parameter -> its values
    headers: dict[str, str] = field(default_factory=dict)  # request header -> description
    page_limit: int | None = None  # a paged list: the largest `limit`
    conflicts: tuple[str, ...] = ()  # the codes of its 409 answers
    limits: str = ""  # the limits (service/limits.py) past which it answers 413, in words
    response: type[BaseModel] | None = None
    status: int = 200
    content_type: str = "application/json"


api = Blueprint("api", __name__, url_prefix="/api/v1")
ENDPOINTS: list[Endpoint] = []


def endpoint(blueprint: Blueprint, rule: str, method: str, *, summary: str, scope: str | None,
             **documented: Any) -> Callable:
    """Register a view on the blueprint behind the scope check, and record it for OpenAPI."""

    def decorate(view: Callable) -> Callable:
        path = rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        ENDPOINTS.append(Endpoint(method.lower(), path, summary, scope, **documented))
        guarded = requires(scope)(view)
        blueprint.add_url_rule(rule, view.__name__, guarded, methods=[method])
        return guarded

    return decorate


def json_body(model: type[Model]) -> Model:
    """Parse and validate the request's JSON body as `model` (400 when it is not)."""
    data = request.get_json(silent=True)  # through service/safe_json.py: depth, numbers, NULs
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object", code="invalid_json", part="body")
    return model.model_validate(data)


def page_args(default: int = 100, maximum: int = 1000) -> tuple[int, int]:
    """The `cursor` and `limit` query parameters of a paged list (400 when they are not valid)."""
    try:
        limit = int(request.args.get("limit", default))
        cursor = int(request.args.get("cursor", 0))
    except ValueError:
        raise InvalidInput("limit and cursor must be whole numbers") from None
    if not 1 <= limit <= maximum or cursor < 0:
        raise InvalidInput(f"limit must be from 1 to {maximum}, and cursor 0 or more")
    return min(cursor, MAX_ID), limit  # past the largest id: an empty page


FLAG_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def query_flag(name: str) -> bool:
    """A yes/no query parameter (true/false, 1/0, yes/no; absent is false)."""
    value = request.args.get(name, "").strip().lower()
    if value not in FLAG_WORDS:
        raise InvalidInput(f"{name} must be true or false", part=name)
    return FLAG_WORDS[value]


# The query of every CSV the API streams: the spreadsheet dialect (Dutch Excel: `;` and a BOM).
CSV_QUERY = {"delimiter": "the CSV's delimiter: , (default), ; or tab",
             "bom": "true: start the CSV with a UTF-8 byte-order mark (for Excel); default false"}
CSV_CHOICES = {"delimiter": tuple(DELIMITERS)}  # `bom` is a boolean (service/api/openapi.py)
# The same for an endpoint that answers JSON or, with ?format=csv, CSV.
CSV_FORMAT_QUERY = {name: f"with format=csv: {words}" for name, words in CSV_QUERY.items()}


def csv_dialect() -> dict[str, Any]:
    """The `delimiter` and `bom` a CSV request asks for (400 when they are not valid), as
    csv_response's keywords; read before the rows are made, so a bad value costs no query."""
    return {"delimiter": csv_delimiter(request.args.get("delimiter")), "bom": query_flag("bom")}
