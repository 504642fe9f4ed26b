"""The contacts page's search: one box that takes an address or an ID of any linked system, a
status filter, and keyset pages in both directions.

A page is found by one indexed query of at most `limit + 1` contacts after (or before) a contact
id, whatever the account's size: no OFFSET, no count of the whole result. What was searched is
returned with the page, so that the page can say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func
from sqlmodel import Session, col, select

from importer.vocabulary import ContactStatus
from service.domain.contacts import contacts_public, lookup_key
from service.errors import InvalidInput
from service.models import Contact, ContactPublic, ExternalId, Link

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
        raise InvalidInput(f"a search has at most {MAX_QUERY} characters", part="q")
    status = status or None
    if status is not None and status not in tuple(ContactStatus):
        raise InvalidInput(f"unknown status '{status}'", part="status")
    kind = None if text is None else ("address" if "@" in text else "id")
    return Search(text, kind, status)


def _conditions(account_id: int, search: Search) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(Contact.account_id) == account_id]
    if search.status is not None:
        conditions.append(col(Contact.status) == search.status)
    if search.kind == "address":
        assert search.text is not None
        conditions.append(col(Contact.address_key) == lookup_key(search.text))
    elif search.kind == "id":
        # Any link of the account's, own IDs and those kept from merged contacts alike; by link,
        # so that each lookup is one probe of the (link, value) unique index.
        links = select(Link.id).where(col(Link.account_id) == account_id)
        conditions.append(col(Contact.id).in_(
            select(ExternalId.contact_id).where(col(ExternalId.link_id).in_(links),
                                                col(ExternalId.value) == search.text)))
    return conditions


def search_contacts(session: Session, account_id: int, search: Search, *, after: int | None = None,
                    before: int | None = None, limit: int = PAGE_SIZE) -> ContactPage:
    """A page of the account's contacts that match, in id order: the first page, the one after
    contact `after`, or the one before contact `before`."""
    conditions = _conditions(account_id, search)
    query: Any = select(Contact).where(*conditions)
    if before is not None:
        query = query.where(col(Contact.id) < before).order_by(col(Contact.id).desc())
    else:
        query = query.where(col(Contact.id) > (after or 0)).order_by(col(Contact.id))
    rows = list(session.exec(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = sorted(rows[:limit], key=lambda contact: contact.id)
    if not rows:
        return ContactPage([], search, None, None)
    first, last = rows[0].id, rows[-1].id
    # One direction is known from the extra row; the other is asked in one EXISTS.
    if before is not None:
        has_previous, has_next = more, _exists(session, conditions, col(Contact.id) > last)
    else:
        has_previous = after is not None and _exists(session, conditions, col(Contact.id) < first)
        has_next = more
    return ContactPage(contacts_public(session, rows), search,
                       previous_before=first if has_previous else None,
                       next_after=last if has_next else None)


def _exists(session: Session, conditions: list[ColumnElement[bool]], where: ColumnElement[bool]) -> bool:
    return bool(session.execute(select(exists().where(*conditions, where))).scalar())




def status_counts(session: Session, account_id: int) -> dict[str, int]:
    """How many of the account's contacts have each status (every status, zero included), and
    `all`: one aggregate over the index of (account, address, status), never the rows."""
    counts = dict.fromkeys(ContactStatus, 0)
    for status, count in session.execute(
            select(col(Contact.status), func.count()).where(col(Contact.account_id) == account_id)
            .group_by(col(Contact.status))):
        counts[status] = count
    return {"all": sum(counts.values()), **{str(status): count for status, count in counts.items()}}
