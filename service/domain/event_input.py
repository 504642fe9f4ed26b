"""Reading the mailing system's events leniently: each event on its own, a bad one answered
`invalid` with a message instead of spoiling the batch (DESIGN.md, "Consent").

This module only parses and checks the shape of one event; service/domain/events.py decides
what the events do, against the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from importer.addresses import AddressValidator
from importer.said import said
from importer.text import unstorable_character
from service.domain.contacts import lookup_key
from service.models import MAX_ID, EventType

KEYS = ("type", "contact", "address", "mailing", "occurred_at", "event_id", "detail")
TYPES = {kind.value: kind for kind in EventType}
# The longest strings the tables keep (an address as RFC 5321 allows, ids and details as stored).
LIMITS = {"address": 320, "event_id": 200, "detail": 1000, "occurred_at": 64}
# A mailing system's clock may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Event:
    """One event as reported, checked: by `contact` (an id) or by `address_key`."""

    type: EventType
    contact: int | None
    address_key: str | None
    mailing: int | None
    occurred_at: datetime
    event_id: str | None
    detail: str | None


class NotAnEvent(ValueError):
    """Why a reported event cannot be taken (its message is the answer's)."""


def read_event(raw: Any, now: datetime, validator: AddressValidator) -> Event:
    """Check one reported event; raise NotAnEvent saying what is wrong with it."""
    if not isinstance(raw, dict):
        raise NotAnEvent(said("an event must be a JSON object"))
    for key, value in raw.items():
        if key not in KEYS:
            raise NotAnEvent(said("unknown key %(key)s; an event has %(keys)s",
                                  key=repr(str(key)), keys=', '.join(KEYS)))
        if isinstance(value, str):
            _check_text(key, value)
    kind = raw.get("type")
    kind = TYPES.get(kind) if isinstance(kind, str) else None
    if kind is None:
        raise NotAnEvent(said("type must be one of %(types)s", types=', '.join(EventType)))
    contact, address = raw.get("contact"), raw.get("address")
    if (contact is None) == (address is None):
        raise NotAnEvent(said('name either "contact" (an id) or "address", not both'))
    if contact is not None and not _is_id(contact):
        raise NotAnEvent(said("contact must be a contact id (a whole number)"))
    if address is not None and not (isinstance(address, str) and address.strip()):
        raise NotAnEvent(said("address must be a non-empty string"))
    mailing = raw.get("mailing")
    if mailing is not None and not _is_id(mailing):
        raise NotAnEvent(said("mailing must be a mailing id (a whole number)"))
    return Event(
        type=kind,
        contact=contact,
        address_key=lookup_key(address, validator) if address is not None else None,
        mailing=mailing,
        occurred_at=_moment(raw.get("occurred_at"), now),
        event_id=_optional_text(raw, "event_id"),
        detail=_optional_text(raw, "detail"),
    )


def _check_text(key: str, value: str) -> None:
    found = unstorable_character(value)
    if found:
        raise NotAnEvent(said("%(key)s must not contain %(found)s", key=key, found=found))
    if len(value) > LIMITS.get(key, 100):
        raise NotAnEvent(said("%(key)s is longer than %(value)s characters",
                              key=key, value=LIMITS.get(key, 100)))


def _is_id(value: Any) -> bool:
    # A JSON true is not an id, although Python counts it as the integer 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise NotAnEvent(said("%(key)s must be a string", key=key))
    return value or None


def _moment(value: Any, now: datetime) -> datetime:
    """occurred_at: ISO 8601 (UTC when it names no zone), not in the future; absent is now."""
    if value is None:
        return now
    if not isinstance(value, str):
        raise NotAnEvent(said("occurred_at must be an ISO 8601 date and time string"))
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise NotAnEvent(said("occurred_at %(value)s is not an ISO 8601 date and time",
                              value=repr(value))) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        raise NotAnEvent(said("occurred_at is in the future"))
    return moment


def storable_id(value: int) -> bool:
    """Could this number be an id in the database at all (others name nothing)?"""
    return 0 < value <= MAX_ID
