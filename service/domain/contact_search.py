"""The contacts page's search: one box that takes an address or an ID of any linked system, a
status filter, and keyset pages in both directions.

A page is found by one indexed query of at most `limit + 1` contacts after (or before) a contact
in address order, whatever the account's size: no OFFSET, no count of the whole result. What was
searched is returned with the page, so that the page can say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, exists, false, func, tuple_
from sqlmodel import Session, col, select

from importer.said import said
from importer.vocabulary import ContactStatus
from service.domain.contacts import contacts_public, lookup_key
from service.errors import InvalidInput
from service.models import MAX_ID, Contact, ContactPublic, ExternalId, Link

PAGE_SIZE = 50
MAX_QUERY = 320  # the longest address there is; an ID is at most 200


@dataclass(frozen=True)
class Search:
    """What the box and the filter asked for: `kind` is "address", "id" or None (everyone)."""

    text: str | None
    kind: str | None
    status: str | None


@dataclass(frozen=True)
class ContactPage:
    contacts: list[ContactPublic]
    search: Search
    # The keyset cursors of the neighbouring pages: None where there is no such page.
    previous_before: int | None
    next_after: int | None


def search_of(text: str | None, status: str | None) -> Search:
    """Read the box and the filter: text with an "@" is an address, anything else an ID."""
    text = (text or "").strip() or None
    if text is not None and len(text) > MAX_QUERY:
        raise InvalidInput(said("a search has at most %(most)s characters",
                                most=MAX_QUERY), part="q")
    status = status or None
    if status is not None and status not in tuple(ContactStatus):
        raise InvalidInput(said("unknown status '%(status)s'", status=status), part="status")
    kind = None if text is None else ("address" if "@" in text else "id")
    return Search(text, kind, status)


def _conditions(session: Session, account_id: int, search: Search) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(Contact.account_id) == account_id]
    if search.status is not None:
        conditions.append(col(Contact.status) == search.status)
    if search.kind == "address":
        assert search.text is not None
        conditions.append(col(Contact.address_key) == lookup_key(search.text))
    elif search.kind == "id":
        # Any link of the account's, own IDs and those kept from merged contacts alike; by link,
        # so that each lookup is one probe of the (link, value) unique index. The few contacts
        # are found first: as a subquery, a database would rather walk the account in address
        # order and test each contact against it.
        links = select(Link.id).where(col(Link.account_id) == account_id)
        found = session.execute(select(col(ExternalId.contact_id)).where(
            col(ExternalId.link_id).in_(links), col(ExternalId.value) == search.text)).scalars().all()
        # Nobody has the ID: a plain false, which every database sees needs no rows at all.
        conditions.append(col(Contact.id).in_(sorted(set(found))) if found else false())
    return conditions


def search_contacts(session: Session, account_id: int, search: Search, *, after: int | None = None,
                    before: int | None = None, limit: int = PAGE_SIZE) -> ContactPage:
    """A page of the account's contacts that match, in address order (ties by id): the first
    page, the one after contact `after`, or the one before contact `before`.

    Address order is what a person looks for in a list, and it is the order of the index of
    (account, address, status): a page is read from the index where it starts, never sorted
    from the whole account (id order would sort all of it: no index has the account and id).
    """
    conditions = _conditions(session, account_id, search)
    query: Any = select(Contact).where(*conditions)
    cursor = _position(session, account_id, before if before is not None else after)
    if before is not None:
        if cursor is not None:
            query = query.where(*_before(cursor))
        query = query.order_by(col(Contact.address_key).desc(), col(Contact.id).desc())
    else:
        if cursor is not None:
            query = query.where(*_after(cursor))
        query = query.order_by(col(Contact.address_key), col(Contact.id))
    rows = list(session.exec(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = sorted(rows[:limit], key=lambda contact: (contact.address_key, contact.id))
    if not rows:
        return ContactPage([], search, None, None)
    first, last = (rows[0].address_key, rows[0].id), (rows[-1].address_key, rows[-1].id)
    # One direction is known from the extra row; the other is asked in one EXISTS.
    if before is not None:
        has_previous, has_next = more, _exists(session, conditions, _after(last))
    else:
        has_previous = cursor is not None and _exists(session, conditions, _before(first))
        has_next = more
    return ContactPage(contacts_public(session, rows), search,
                       previous_before=first[1] if has_previous else None,
                       next_after=last[1] if has_next else None)


def _position(session: Session, account_id: int, contact_id: int | None) -> tuple[str, int] | None:
    """Where a page cursor (a contact id) stands in address order; None for the first (or last)
    page, also when that contact is gone meanwhile (erased), or the id is none a contact can have
    (the databases overflow on 2**63)."""
    if contact_id is None or not 0 < contact_id <= MAX_ID:
        return None
    key = session.execute(select(col(Contact.address_key)).where(
        col(Contact.id) == contact_id, col(Contact.account_id) == account_id)).scalar()
    return None if key is None else (key, contact_id)


def _after(position: tuple[str, int]) -> list[ColumnElement[bool]]:
    key, contact_id = position
    # The plain bound lets every database start the index range at the address; the row
    # comparison then says which contacts of that address come after.
    return [col(Contact.address_key) >= key,
            tuple_(col(Contact.address_key), col(Contact.id)) > tuple_(key, contact_id)]


def _before(position: tuple[str, int]) -> list[ColumnElement[bool]]:
    key, contact_id = position
    return [col(Contact.address_key) <= key,
            tuple_(col(Contact.address_key), col(Contact.id)) < tuple_(key, contact_id)]


def _exists(session: Session, conditions: list[ColumnElement[bool]], where: list[ColumnElement[bool]]
            ) -> bool:
    return bool(session.execute(select(exists().where(*conditions, *where))).scalar())


def status_counts(session: Session, account_id: int) -> dict[str, int]:
    """How many of the account's contacts there are, and how many have each status: one pass
    over the index of (account, address, status), never the rows."""
    statuses = list(ContactStatus)
    row = session.execute(select(func.count(), *(
        func.coalesce(func.sum(case((col(Contact.status) == status, 1), else_=0)), 0) for status in statuses
    )).where(col(Contact.account_id) == account_id)).one()
    counts = {str(status): int(count) for status, count in zip(statuses, row[1:], strict=True)}
    return {"all": int(row[0]), **counts}
