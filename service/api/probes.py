"""Probes for load balancers and monitoring, without a key: /healthz, /readyz and /metrics."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from flask.typing import ResponseReturnValue

from service import metrics
from service.db import current_engine
from service.http_errors import error_response
from service.readiness import readiness

probes = Blueprint("probes", __name__)


@probes.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 while the process runs; it asks nothing of the database."""
    return {"status": "ok"}


@probes.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 when the database answers at the newest schema; else 503 with the reason."""
    state = readiness(current_engine())
    if not state.ready:
        response = error_response(503, state.code, state.message)
        response.headers["Retry-After"] = "5"
        return response
    return {"status": "ready", "schema": state.schema}


@probes.get("/metrics")
def metrics_text() -> ResponseReturnValue:
    """Prometheus' text format."""
    text = metrics.exposition(current_engine(), current_app.config.get("METRICS_DIR"))
    return Response(text, content_type=metrics.CONTENT_TYPE)
