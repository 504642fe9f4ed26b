"""The mailing system's events: unsubscribes, complaints and bounces, in batches."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import current_app, g, request
from flask.typing import ResponseReturnValue

from service import safe_json
from service.api.routing import api, endpoint
from service.db import current_engine, session
from service.domain import events
from service.errors import InvalidInput
from service.metrics import count_events
from service.models import EventsBody, EventsResponse, EventType, Scope

EVENT_TYPES = frozenset(EventType)  # made once: not a tuple per event


@endpoint(api, "/events", "POST", summary="Report unsubscribes, complaints and bounces (answered per "
          "event, in request order)", scope=Scope.SEND, body=EventsBody, response=EventsResponse,
          limits="events per batch (SAFEGUARD_MAX_BATCH)")
def report_events() -> ResponseReturnValue:
    # Only the envelope is checked here: each event is read on its own, so that one bad event
    # gets its own answer instead of a 400 for the whole batch.
    body = _batch_body()
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidInput('the body must be {"events": [...]}', code="invalid_json", part="events")
    unknown = sorted(str(key) for key in body if key != "events")
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r}: the body is {{\"events\": [...]}}", part="body")
    account_id = g.account.id
    session().close()  # the batch runs in a transaction of its own; hold no second connection
    results = events.record_events(current_engine(), account_id, body["events"],
                                   max_events=current_app.config["MAX_BATCH"])
    _count(body["events"], results)
    return {"results": results}


def _batch_body() -> Any:
    """The JSON body, read safely but with NULs and lone surrogates let through: an event holding
    one is answered `invalid` on its own, and the rest of the batch still counts."""
    try:
        return safe_json.loads(request.get_data(), allow_unstorable=True)
    except safe_json.UnsafeJson as error:
        raise InvalidInput(f"the request body cannot be read: {error}", code="invalid_json",
                           part="body") from None
    except ValueError:
        return None  # not JSON: answered as a body that is not {"events": [...]}


def _count(raw_events: list[Any], results: list[dict[str, Any]]) -> None:
    """Count the batch's events by type and status for /metrics (an unknown type as `other`, so
    that a client cannot make up label values)."""
    counts: Counter[tuple[str, str]] = Counter()
    for raw, result in zip(raw_events, results, strict=True):
        kind = raw.get("type") if isinstance(raw, dict) else None
        label = kind if isinstance(kind, str) and kind in EVENT_TYPES else "other"
        counts[(label, str(result["status"]))] += 1
    for (kind, status), count in counts.items():
        count_events(kind, status, count)
