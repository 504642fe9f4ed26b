"""The audiences of started mailings, kept per process so that a check reads no mailing settings.

An entry is valid forever once made, on every instance: it is only made after a check's
transaction that confirmed the mailing's settings under its shared row lock (`settings_still`)
found the mailing started (a ledger entry of it) and committed. From then on nothing it was made
from can change: the settings are fixed (a change or a delete is 409 `mailing_started`, decided
under the row lock against the ledger, whose entries are never deleted), the segments it names
may not change their rules or be deleted while a mailing uses them, and fields and links are only
ever added. Before its start a mailing is never cached: another instance may change it.

What may change stays per check: the account's dedup mode (read with the key) and "now", which
relative dates compare with.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from flask import Flask

from segments.collapse import Audience
from segments.compiler import RuleCompiler
from service.models import Account, utcnow

KEPT = 1000  # mailings per process; the least recently checked go first


class StartedAudiences:
    """Mailing id → the audience its (fixed) settings make, for the started mailings checked here."""

    def __init__(self, kept: int = KEPT) -> None:
        self._entries: OrderedDict[int, Audience] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def get(self, account: Account, mailing_id: int) -> Audience | None:
        """The mailing's audience for a check now, or None when it is not kept (or not the
        account's: the normal way then answers 404)."""
        with self._lock:
            kept = self._entries.get(mailing_id)
            if kept is None or kept.account_id != account.id:
                return None
            self._entries.move_to_end(mailing_id)
        return replace(kept, dedup_mode=account.dedup_mode,
                       compiler=RuleCompiler(kept.compiler.catalog, utcnow()))

    def keep(self, mailing_id: int, audience: Audience) -> None:
        """Keep the audience of a mailing that a committed check found started."""
        with self._lock:
            self._entries[mailing_id] = audience
            self._entries.move_to_end(mailing_id)
            while len(self._entries) > self._kept:
                self._entries.popitem(last=False)

    def __contains__(self, mailing_id: int) -> bool:
        with self._lock:
            return mailing_id in self._entries


def started_audiences(app: Flask) -> StartedAudiences:
    """The app's cache (one per app: each app has its own database)."""
    cache: StartedAudiences = app.extensions.setdefault("safeguard.started_audiences", StartedAudiences())
    return cache
