"""A contact's status history: every change of its status, when, from what to what, and why.

Every path that changes a status records it here (the importer, which writes set-based inside its
own transaction, inserts the same rows in SQL). Recording goes in the caller's transaction, so a
change and its history commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from importer.vocabulary import StatusSource
from service.domain.json_rows import insert_rows
from service.models import StatusChange, utcnow

COLUMNS = (("account_id", "integer"), ("contact_id", "integer"), ("at", "timestamp"),
           ("status_from", "text"), ("status_to", "text"), ("source", "text"), ("source_id", "integer"),
           ("detail", "text"))


@dataclass(frozen=True)
class Change:
    """One contact's status going from `status_from` (None: a new contact) to `status_to`; a
    change may name its own source id and detail (events of one batch each have their own)."""

    contact_id: int
    status_from: str | None
    status_to: str
    source_id: int | None = None
    detail: str | None = None


def record_changes(session: Session, account_id: int, changes: Iterable[Change], *,
                   source: StatusSource, source_id: int | None = None, detail: str | None = None,
                   at: datetime | None = None) -> int:
    """Record status changes (in one statement); returns how many were recorded."""
    moment = at or utcnow()
    rows = [(account_id, change.contact_id, moment, change.status_from, change.status_to, str(source),
             source_id if change.source_id is None else change.source_id,
             detail if change.detail is None else change.detail)
            for change in changes if change.status_from != change.status_to]
    insert_rows(session.connection(), "contact_status_history", COLUMNS, rows)
    return len(rows)


def history_of(session: Session, account_id: int, contact_id: int) -> list[StatusChange]:
    """A contact's status changes, oldest first."""
    return list(session.exec(
        select(StatusChange)
        .where(StatusChange.account_id == account_id, StatusChange.contact_id == contact_id)
        .order_by(col(StatusChange.id))
    ))
