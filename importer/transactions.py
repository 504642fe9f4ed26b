"""Transactions PostgreSQL may roll back whole to break a deadlock or a serialization conflict.

Checks, events and imports lock contacts from different sides at once (a check its batch, in id
order; an event the contacts at an address; an import whichever rows its UPDATE meets first), so
PostgreSQL now and then breaks a cycle by rolling one of them back. Each runs its transaction again
rather than failing its user: the other party has gone on, and the next attempt sees what it did.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 3


def retryable(error: BaseException) -> bool:
    """Whether `error` rolled a transaction back whole for a reason that running it again removes."""
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
