"""Limits on attempts (failed sign-ins, uploads), counted in the database so that they hold on every instance.

Hand-written, not Flask-Limiter: its storages (the `limits` package's) are memory, Redis,
Memcached and MongoDB, and the several-hosts design shares only the database. A `limits` storage
over SQL would have to implement its counters, moving windows and expiry for one use; a table of
events and a count over a sliding window is all that is needed here (one indexed count per
attempt, on rows that are deleted once they leave their window).

A key names what is counted and for whom: "sign_in:email:anna@acme.example",
"sign_in:client:10.0.0.7", "upload:user:3", "upload:key:<the key's hash>". A limit allows `events`
events per key within any `window`; the next one is refused until the oldest of them leaves the
window. A refused attempt is not counted (the wait never grows), and the check comes before the
event is stored: requests in flight at the same moment may each pass, so that a limit can be
exceeded by the number of concurrent requests, never by a steady stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from importer.said import said, word
from service.db import begin_write
from service.domain.contacts import as_utc
from service.errors import TooManyAttempts
from service.models import RateEvent, utcnow


@dataclass(frozen=True)
class Limit:
    """At most `events` events per key within any `seconds`."""

    events: int
    seconds: float

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.seconds)


def retry_after(session: Session, key: str, limit: Limit, now: datetime | None = None) -> int | None:
    """Seconds until the key may have another event, or None when it may now."""
    now = now or utcnow()
    since = now - limit.window
    in_window = session.exec(select(func.count()).select_from(RateEvent)
                             .where(RateEvent.key == key, RateEvent.at > since)).one()
    if in_window < limit.events:
        return None
    # The event whose leaving the window frees a place: the `events`-th newest.
    freeing = session.exec(select(RateEvent.at).where(RateEvent.key == key, RateEvent.at > since)
                           .order_by(col(RateEvent.at).desc())
                           .offset(limit.events - 1).limit(1)).one()
    return max(1, math.ceil((as_utc(freeing) + limit.window - now).total_seconds()))


def refuse_if_over(session: Session, keys: dict[str, Limit], what: str, now: datetime | None = None) -> None:
    """Raise TooManyAttempts when any of the keys is at its limit; the wait is the longest of theirs."""
    waits = [wait for key, limit in keys.items() if (wait := retry_after(session, key, limit, now))]
    if waits:
        wait = max(waits)
        raise TooManyAttempts(said("too many %(what)s; try again in %(wait)s",
                                   what=word(what), wait=in_words(wait)), retry_after=wait)


def record(session: Session, keys: dict[str, Limit], now: datetime | None = None) -> None:
    """Count one event under each key, and forget the events of its kind that have left the window.

    Every key of a kind ("sign_in", "upload") has the same window, so that the events of keys never
    seen again (an attacker's made-up addresses) go too: the table holds the windows' events only.
    """
    now = now or utcnow()
    begin_write(session)
    for key, limit in keys.items():
        kind = key.partition(":")[0]
        session.execute(delete(RateEvent).where(col(RateEvent.key).startswith(f"{kind}:", autoescape=True),
                                                col(RateEvent.at) <= now - limit.window))
        session.add(RateEvent(key=key, at=now))
    session.commit()


def in_words(seconds: int) -> str:
    """A wait as a person reads it."""
    if seconds < 90:
        return said("%(count)s seconds", count=seconds)
    return said("%(count)s minutes", count=math.ceil(seconds / 60))
