"""A mailing's send ledger as people read it: pages of entries, the whole of it as CSV, counts.

The check (service/domain/send_check.py) writes the ledger; this module only reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from service.domain.contacts import as_utc
from service.models import ACTIVE_STATES, LedgerEntry, LedgerState

ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
CSV_HEADER = ["contact", "address_key", "address", "state", "claimed_at", "sent_at", "released_at",
              "event", "event_at"]


def ledger_query(mailing_id: int, *, after: int = 0, limit: int | None = None) -> Any:
    """The mailing's ledger in the order of the claims."""
    query = select(ledger.c.id, ledger.c.contact_id, ledger.c.address_key, ledger.c.address,
                   ledger.c.state, ledger.c.claimed_at, ledger.c.sent_at, ledger.c.released_at,
                   ledger.c.event, ledger.c.event_at).where(
        ledger.c.mailing_id == mailing_id, ledger.c.id > after).order_by(ledger.c.id)
    return query if limit is None else query.limit(limit)


def ledger_page(session: Session, mailing_id: int, *, after: int, limit: int
                ) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the ledger's entries, and the cursor of the next page (None on the last)."""
    rows = session.connection().execute(ledger_query(mailing_id, after=after, limit=limit + 1)).all()
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    entries = [{"contact": r.contact_id, "address_key": r.address_key, "address": r.address,
                "state": r.state, "claimed_at": _utc(r.claimed_at), "sent_at": _utc(r.sent_at),
                "released_at": _utc(r.released_at), "event": r.event, "event_at": _utc(r.event_at)}
               for r in rows[:limit]]
    return entries, next_cursor


def ledger_rows(engine: Engine, mailing_id: int) -> Iterator[list[str]]:
    """The whole ledger as CSV rows, a header first; streamed on a connection of its own, so that
    it can be read after the request's session is closed."""
    yield CSV_HEADER
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(
            ledger_query(mailing_id))
        for row in result:
            yield [str(row.contact_id), row.address_key, row.address or "", row.state,
                   *(_stamp(v) for v in (row.claimed_at, row.sent_at, row.released_at)),
                   row.event or "", _stamp(row.event_at)]


def state_counts(session: Session, mailing_id: int) -> dict[str, int]:
    """Ledger entries per state, counted in the database."""
    rows = session.execute(select(ledger.c.state, func.count()).where(ledger.c.mailing_id == mailing_id)
                           .group_by(ledger.c.state)).all()
    counts: dict[str, int] = dict.fromkeys(tuple(LedgerState), 0)
    counts.update({state: int(n) for state, n in rows})
    return counts


def claimed_count(session: Session, mailing_id: int) -> int:
    """Clearances of the mailing not released (claimed or sent)."""
    return int(session.execute(select(func.count()).select_from(ledger).where(
        ledger.c.mailing_id == mailing_id, ledger.c.state.in_(ACTIVE_STATES))).scalar_one())


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else as_utc(moment).isoformat()
