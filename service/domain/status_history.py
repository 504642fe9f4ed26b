"""A contact's status history: every change of its status, when, from what to what, and why.

Every path that changes a status records it here (the importer, which writes set-based inside its
own transaction, inserts the same rows in SQL). Recording goes in the caller's transaction, so a
change and its history commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from importer.vocabulary import StatusSource
from service.models import StatusChange, utcnow

history = StatusChange.__table__  # type: ignore[attr-defined]
BATCH = 1000


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
    """Record status changes (one statement per thousand); returns how many were recorded."""
    moment = at or utcnow()
    rows = [{"account_id": account_id, "contact_id": change.contact_id, "at": moment,
             "status_from": change.status_from, "status_to": change.status_to,
             "source": str(source),
             "source_id": source_id if change.source_id is None else change.source_id,
             "detail": detail if change.detail is None else change.detail}
            for change in changes if change.status_from != change.status_to]
    for start in range(0, len(rows), BATCH):
        session.execute(insert(history), rows[start:start + BATCH])
    return len(rows)


def history_of(session: Session, account_id: int, contact_id: int) -> list[StatusChange]:
    """A contact's status changes, oldest first."""
    return list(session.exec(
        select(StatusChange)
        .where(StatusChange.account_id == account_id, StatusChange.contact_id == contact_id)
        .order_by(col(StatusChange.id))
    ))
