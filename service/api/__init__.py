"""The HTTP API under /api/v1."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")

# The endpoint modules register their views on `api` when imported.
from service.api import account, contacts, dedup, imports, mailings, openapi, segments  # noqa: E402,F401
