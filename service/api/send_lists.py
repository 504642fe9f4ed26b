"""What segments and mailings answer alike: the preview counts and the send list (JSON or CSV)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from segments.collapse import Audience, preview, recipients_query
from service.api.routing import CSV_CHOICES, CSV_FORMAT_QUERY, csv_dialect, page_args
from service.db import current_engine, session
from service.domain.contacts import contacts_public
from service.domain.segments import send_list_rows
from service.downloads import csv_response
from service.errors import InvalidInput
from service.models import RecipientList

LIST_FORMATS = ("json", "csv")  # ?format=: a JSON page, or the whole list as CSV
SEND_LIST_PAGE_LIMIT = 10_000
RECIPIENTS_QUERY = {
    "format": "json (default, paged) or csv (the whole list, streamed)",
    "cursor": "the next_cursor of the previous page",
    "limit": "at most 10000 (default 1000)",
    **CSV_FORMAT_QUERY,
}
RECIPIENTS_CHOICES = {"format": LIST_FORMATS, **CSV_CHOICES}


def preview_answer(audience: Audience, **extra: int) -> dict[str, Any]:
    with current_engine().connect() as conn:
        return {**preview(conn, audience).to_json(), **extra}


def recipients_answer(audience: Audience, filename: str) -> ResponseReturnValue:
    """A page of the send list as JSON, or all of it as CSV (`?format=csv`)."""
    kind = request.args.get("format", "json")
    if kind not in LIST_FORMATS:
        raise InvalidInput("format must be json or csv", part="format")
    if kind == "csv":
        dialect = csv_dialect()
        return csv_response(send_list_rows(current_engine(), audience), filename, **dialect)
    cursor, limit = page_args(default=1000, maximum=SEND_LIST_PAGE_LIMIT)
    rows = session().connection().execute(
        recipients_query(audience, after=cursor, limit=limit + 1)).all()
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return RecipientList(recipients=contacts_public(session(), rows[:limit]),
                         next_cursor=next_cursor).model_dump(mode="json")
