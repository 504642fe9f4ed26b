"""The HTTP API under /api/v1: one module per area registers its endpoints on the blueprint."""

from service.api import (
    account,
    contacts,
    dedup,
    erasures,
    events,
    imports,
    keys,
    mailings,
    openapi,
    segments,
)
from service.api.routing import api

__all__ = ["api", "account", "contacts", "dedup", "erasures", "events", "imports", "keys", "mailings",
           "openapi", "segments"]
