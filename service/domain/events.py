"""The mailing system's events: unsubscribes, complaints and bounces make contacts unmailable.

A batch (at most 10,000 events) is one transaction of a few set-based statements, whatever its
size: the contacts named by id or by address are resolved and locked in one query, the events
inserted in bulk, the soft bounces of the addresses concerned read in one query, the statuses
updated in one statement (SQLite: one per new status), the history written in bulk. Each event is answered
in request order: `applied`, `duplicate` (its `event_id` was recorded before in the account,
maybe earlier in the same batch: it changes nothing, so a batch can be sent again safely),
`unknown_contact`, or `invalid` with a message.

Statuses only get more restrictive (active < unsubscribed < bounced). An event's status UPDATE
waits for the checks that hold the contacts locked (service/domain/send_check.py), and a check
that comes after it reads the new status: a contact an event opted out is never cleared after
the event committed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, literal_column, select, text, union, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from importer.addresses import AddressValidator
from importer.collector import collector_paused
from importer.transactions import ATTEMPTS, retryable
from importer.vocabulary import ContactStatus, StatusSource
from segments.tables import contacts
from segments.values import json_values, one_of
from service.domain.contacts import as_utc
from service.domain.dedup_change import wait_for_change
from service.domain.event_input import Event, NotAnEvent, read_event, storable_id
from service.domain.json_rows import insert_rows
from service.domain.status_history import Change, record_changes
from service.limits import check_batch
from service.models import ContactEvent, EventStatus, EventType, LedgerEntry, Mailing, utcnow

MAX_EVENTS = 10_000  # in one batch, unless SAFEGUARD_MAX_BATCH says otherwise
SOFT_BOUNCE_WINDOW = timedelta(days=30)
SOFT_BOUNCES_TO_BOUNCE = 3  # the third soft bounce within the window counts as a hard bounce
RESTRICTIVENESS = {ContactStatus.ACTIVE: 0, ContactStatus.UNSUBSCRIBED: 1, ContactStatus.BOUNCED: 2}

EVENT_COLUMNS = (("id", "integer"), ("account_id", "integer"), ("event_id", "text"), ("type", "text"),
                 ("contact_id", "integer"), ("address_key", "text"), ("mailing_id", "integer"),
                 ("occurred_at", "timestamp"), ("received_at", "timestamp"), ("detail", "text"))

events_table = ContactEvent.__table__  # type: ignore[attr-defined]
ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
mailings = Mailing.__table__  # type: ignore[attr-defined]


@dataclass
class Batch:
    """The batch being applied: the events read, and each one's answer so far (by position)."""

    events: dict[int, Event]
    answers: list[dict[str, Any] | None]
    statuses: dict[int, str] = field(default_factory=dict)  # contact -> status, as locked
    at_address: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    key_of: dict[int, str] = field(default_factory=dict)  # contact -> address key

    def answer(self, position: int, status: EventStatus, message: str | None = None) -> None:
        self.answers[position] = {"status": status, **({"message": message} if message else {})}
        self.events.pop(position, None)


def record_events(engine: Engine, account_id: int, raw_events: Sequence[Any], *,
                  max_events: int = MAX_EVENTS) -> list[dict[str, Any]]:
    """Apply a batch of reported events in one transaction; answer each, in request order.
    TooLarge for a batch of more than `max_events`."""
    check_batch(len(raw_events), max_events, "events")
    with collector_paused():  # tens of thousands of small objects live until the answer is sent
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with Session(engine.execution_options(sqlite_immediate=True)) as session, session.begin():
                    wait_for_change(session.connection(), account_id)
                    return _apply(session, account_id, raw_events)
            except (IntegrityError, DBAPIError) as error:
                # Also another batch recording the same event_id meanwhile: the next attempt sees it.
                if not (isinstance(error, IntegrityError) or retryable(error)) or attempt == ATTEMPTS:
                    raise
    raise AssertionError("unreachable")


def _apply(session: Session, account_id: int, raw_events: Sequence[Any]) -> list[dict[str, Any]]:
    now = utcnow()
    batch = Batch({}, [None] * len(raw_events))
    validator = AddressValidator()
    for position, raw in enumerate(raw_events):
        try:
            batch.events[position] = read_event(raw, now, validator)
        except NotAnEvent as error:
            batch.answer(position, EventStatus.INVALID, str(error))
    _refuse_other_mailings(session, account_id, batch)
    _mark_recorded_before(session, account_id, batch)
    _resolve(session, account_id, batch)
    at = utcnow()  # after the contacts are locked: later than any clearance of them
    seen: set[str] = set()
    for position, event in list(batch.events.items()):  # an event_id twice in the batch
        if event.event_id is not None:
            if event.event_id in seen:
                batch.answer(position, EventStatus.DUPLICATE)
            seen.add(event.event_id)
    row_ids = _insert(session, account_id, batch, now)
    escalated = _third_soft_bounces(session, account_id, batch)
    changes = _status_changes(batch, row_ids, escalated)
    _update_statuses(session, changes, at)
    record_changes(session, account_id, changes, source=StatusSource.EVENT, at=at)
    _note_in_ledgers(session, batch)
    for position in batch.events:
        batch.answers[position] = {"status": EventStatus.APPLIED}
    return [answer for answer in batch.answers if answer is not None]


def _refuse_other_mailings(session: Session, account_id: int, batch: Batch) -> None:
    asked = sorted({e.mailing for e in batch.events.values() if e.mailing is not None})
    own = set(session.execute(select(mailings.c.id).where(
        mailings.c.account_id == account_id,
        one_of(mailings.c.id, [i for i in asked if storable_id(i)], _dialect(session)))).scalars())
    for position, event in list(batch.events.items()):
        if event.mailing is not None and event.mailing not in own:
            batch.answer(position, EventStatus.INVALID, f"this account has no mailing {event.mailing}")


def _mark_recorded_before(session: Session, account_id: int, batch: Batch) -> None:
    asked = sorted({e.event_id for e in batch.events.values() if e.event_id is not None})
    if not asked:
        return
    recorded = set(session.execute(select(events_table.c.event_id).where(
        events_table.c.account_id == account_id,
        one_of(events_table.c.event_id, asked, _dialect(session)))).scalars())
    for position, event in list(batch.events.items()):
        if event.event_id in recorded:
            batch.answer(position, EventStatus.DUPLICATE)


def _resolve(session: Session, account_id: int, batch: Batch) -> None:
    """Find and lock the contacts the events name, and everyone at the addresses they concern."""
    dialect = _dialect(session)
    ids = sorted({e.contact for e in batch.events.values()
                  if e.contact is not None and storable_id(e.contact)})
    keys = sorted({e.address_key for e in batch.events.values() if e.address_key is not None})
    # Everyone at a named contact's address too: complaints and bounces belong to the address.
    # ("+ 0": found by id, not by scanning the account's address index for those ids.)
    named_addresses = select(contacts.c.address_key).where(
        contacts.c.account_id + 0 == account_id, one_of(contacts.c.id, ids, dialect))
    # A union of three lookups, each by an index: as one OR, SQLite walked the whole account
    # (through its (account, id) index: 4 s for a million contacts).
    mine = contacts.c.account_id == account_id
    wanted = union(select(contacts.c.id).where(mine, one_of(contacts.c.id, ids, dialect)),
                   select(contacts.c.id).where(mine, one_of(contacts.c.address_key, keys, dialect)),
                   select(contacts.c.id).where(mine, contacts.c.address_key.in_(named_addresses)))
    query = select(contacts.c.id, contacts.c.address_key, contacts.c.status).where(
        contacts.c.id.in_(wanted)).order_by(contacts.c.id)
    if dialect == "postgresql":  # in id order, as checks lock them: no deadlock between the two
        query = query.with_for_update(of=contacts)
    for contact_id, key, status in session.execute(query) if ids or keys else []:
        batch.statuses[contact_id] = status
        batch.key_of[contact_id] = key
        batch.at_address[key].append(contact_id)
    for position, event in list(batch.events.items()):
        if event.contact is not None:
            event.address_key = batch.key_of.get(event.contact)
        if event.address_key not in batch.at_address or (
                event.contact is not None and event.contact not in batch.statuses):
            batch.answer(position, EventStatus.UNKNOWN_CONTACT)


def _insert(session: Session, account_id: int, batch: Batch, now: datetime) -> dict[int, int]:
    """Record the batch's events in one statement; return each one's row id by position.

    The ids are taken first (PostgreSQL: from the sequence; SQLite: past the largest, under
    the write lock this transaction holds): RETURNING would not say which row is which.
    """
    positions = list(batch.events)
    if not positions:
        return {}
    ids = _new_ids(session, len(positions))
    rows = [(row_id, account_id, e.event_id, str(e.type), e.contact, e.address_key, e.mailing,
             e.occurred_at, now, e.detail)
            for row_id, e in zip(ids, (batch.events[p] for p in positions), strict=True)]
    # A concurrent batch that recorded one of these event_ids first makes this insert fail on
    # the unique index; the retry then answers that event `duplicate`.
    insert_rows(session.connection(), "contact_events", EVENT_COLUMNS, rows)
    return dict(zip(positions, ids, strict=True))


def _new_ids(session: Session, count: int) -> list[int]:
    if _dialect(session) == "postgresql":
        return list(session.execute(text(
            "SELECT nextval(pg_get_serial_sequence('contact_events', 'id')) FROM generate_series(1, :n)"),
            {"n": count}).scalars())
    largest = session.execute(select(func.coalesce(func.max(events_table.c.id), 0))).scalar_one()
    return list(range(largest + 1, largest + 1 + count))


def _third_soft_bounces(session: Session, account_id: int, batch: Batch) -> set[int]:
    """The positions of soft bounces that make an address bounced: the third within 30 days.

    One query reads the soft bounces recorded (this batch's included) at the addresses concerned
    and near the new ones' dates; a window of three within 30 days that holds a new one bounces
    the address, as of the first new soft bounce in such a window.
    """
    new = {p: e for p, e in batch.events.items() if e.type == EventType.SOFT_BOUNCE}
    if not new:
        return set()
    keys = sorted({str(e.address_key) for e in new.values()})
    moments = [e.occurred_at for e in new.values()]
    # The type as a literal, so that the planner may use the partial index of soft bounces. On
    # PostgreSQL a join from the keys (the IN form gets a nested loop over the whole table while
    # the table has no statistics); on SQLite the IN form (a join there loops over the table).
    dialect = _dialect(session)
    query = select(events_table.c.address_key, events_table.c.occurred_at)
    if dialect == "postgresql":
        listed = json_values(keys, dialect)
        query = query.select_from(listed.join(events_table, events_table.c.address_key == listed.c.value))
    else:
        query = query.where(one_of(events_table.c.address_key, keys, dialect))
    rows = session.execute(query.where(
        events_table.c.account_id == account_id,
        events_table.c.type == literal_column(f"'{EventType.SOFT_BOUNCE}'"),
        events_table.c.occurred_at >= min(moments) - SOFT_BOUNCE_WINDOW,
        events_table.c.occurred_at <= max(moments) + SOFT_BOUNCE_WINDOW)).all()
    recorded: dict[str, list[datetime]] = defaultdict(list)
    for key, moment in rows:
        recorded[key].append(as_utc(moment))
    new_at: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for position, event in new.items():
        new_at[str(event.address_key)].append((event.occurred_at, position))
    escalated: set[int] = set()
    for key, times in recorded.items():
        times.sort()
        news = new_at[key]
        for first in range(len(times) - SOFT_BOUNCES_TO_BOUNCE + 1):
            start, end = times[first], times[first + SOFT_BOUNCES_TO_BOUNCE - 1]
            if end - start <= SOFT_BOUNCE_WINDOW:
                inside = [p for moment, p in news if start <= moment <= end]
                if inside:
                    escalated.add(min(inside))
                    break
    return escalated


def _status_changes(batch: Batch, row_ids: dict[int, int], escalated: set[int]) -> list[Change]:
    """Walk the events in request order: every change of a status, each with its event."""
    statuses = dict(batch.statuses)
    changes = []
    for position, event in batch.events.items():
        target, who = _effect(batch, position, event, escalated)
        for contact_id in who:
            current = statuses[contact_id]
            if RESTRICTIVENESS.get(ContactStatus(current), 0) < RESTRICTIVENESS[target]:
                changes.append(Change(contact_id, current, target, source_id=row_ids[position],
                                      detail=event.detail or str(event.type)))
                statuses[contact_id] = target
    return changes


def _effect(batch: Batch, position: int, event: Event, escalated: set[int]
            ) -> tuple[ContactStatus, list[int]]:
    """The status an event asks for, and of whom."""
    everyone_there = batch.at_address[str(event.address_key)]
    if event.type == EventType.UNSUBSCRIBE:
        return ContactStatus.UNSUBSCRIBED, [event.contact] if event.contact is not None else everyone_there
    if event.type == EventType.COMPLAINT:  # the inbox's owner complained
        return ContactStatus.UNSUBSCRIBED, everyone_there
    if event.type == EventType.HARD_BOUNCE or position in escalated:
        return ContactStatus.BOUNCED, everyone_there
    return ContactStatus.BOUNCED, []  # a soft bounce, counted only


def _update_statuses(session: Session, changes: list[Change], at: datetime) -> None:
    """Set each changed contact's last new status (PostgreSQL: in one UPDATE ... FROM).

    Only contacts whose status changes are updated (_status_changes leaves out those already as
    restrictive): a status is in two of the contacts' indexes, so no such update is HOT, and each
    row updated costs an entry in every index of the table.
    """
    final = {change.contact_id: change.status_to for change in changes}
    if _dialect(session) != "postgresql":  # in-process: a statement per new status costs nothing
        by_status: dict[str, list[int]] = defaultdict(list)
        for contact_id, status in final.items():
            by_status[status].append(contact_id)
        for status, ids in by_status.items():
            session.execute(update(contacts).values(status=status, updated_at=at).where(
                one_of(contacts.c.id, sorted(ids), "sqlite")))
        return
    if final:  # one statement, the pairs in id order (as checks lock the contacts)
        pairs = [{"id": contact_id, "status": status} for contact_id, status in sorted(final.items())]
        session.execute(text(
            "UPDATE contacts SET status = v.status, updated_at = :at "
            "FROM json_to_recordset(CAST(:pairs AS json)) AS v(id integer, status text) "
            "WHERE contacts.id = v.id").bindparams(bindparam("at", type_=contacts.c.updated_at.type)),
            {"pairs": json.dumps(pairs), "at": at})


def _note_in_ledgers(session: Session, batch: Batch) -> None:
    """An event naming a mailing notes itself on the ledger entries of the contacts it concerns."""
    notes: dict[tuple[int, int], tuple[datetime, str]] = {}
    for event in batch.events.values():
        if event.mailing is None:
            continue
        who = [event.contact] if event.contact is not None else batch.at_address[str(event.address_key)]
        for contact_id in who:
            earlier = notes.get((event.mailing, contact_id))
            if earlier is None or earlier[0] <= event.occurred_at:  # the latest event stays
                notes[(event.mailing, contact_id)] = (event.occurred_at, str(event.type))
    if notes:
        session.execute(update(ledger).where(
            ledger.c.mailing_id == bindparam("m"), ledger.c.contact_id == bindparam("c"),
        ).values(event=bindparam("e"), event_at=bindparam("at")),
            [{"m": m, "c": c, "e": kind, "at": moment} for (m, c), (moment, kind) in notes.items()])


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
