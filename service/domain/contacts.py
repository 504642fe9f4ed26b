"""Reading contacts for the API: lookups by address or ID, and the public shape of a contact."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError
from sqlmodel import Session, col, select

from importer.addresses import AddressValidator, address_key
from importer.said import said
from importer.vocabulary import ContactStatus
from service.errors import InvalidInput
from service.models import Contact, ContactPublic, ExternalId, Link


def lookup_key(address: str, validator: AddressValidator | None = None) -> str:
    """The address key of an address typed by a person (normalized like an import would); pass
    one validator for many addresses, so that each domain is checked once."""
    try:
        return address_key((validator or AddressValidator()).normalize(address.strip()))
    except EmailNotValidError:
        return address_key(address.strip())  # not an address: found only if stored so


def find_contacts(session: Session, account_id: int, *, address: str | None = None,
                  external_id: tuple[str, str] | None = None, status: str | None = None,
                  after: int = 0, limit: int = 100) -> tuple[list[ContactPublic], int | None]:
    """A page of the account's contacts in id order, filtered (without a filter: everyone);
    returns the page and the next cursor (None on the last page)."""
    query = select(Contact).where(Contact.account_id == account_id, Contact.id > after)
    if status is not None:
        if status not in tuple(ContactStatus):
            raise InvalidInput(said("status must be one of %(statuses)s",
                                    statuses=', '.join(ContactStatus)), part="status")
        query = query.where(Contact.status == status)
    if address is not None:
        query = query.where(Contact.address_key == lookup_key(address))
    if external_id is not None:
        link_name, value = external_id
        link = session.exec(
            select(Link).where(Link.account_id == account_id, Link.name == link_name)
        ).first()
        if link is None:
            raise InvalidInput(said("this account has no link named '%(name)s'", name=link_name))
        query = query.where(col(Contact.id).in_(
            select(ExternalId.contact_id).where(ExternalId.link_id == link.id,
                                                ExternalId.value == value)
        ))
    contacts = list(session.exec(query.order_by(col(Contact.id)).limit(limit + 1)))
    next_cursor = contacts[limit - 1].id if len(contacts) > limit else None
    return contacts_public(session, contacts[:limit]), next_cursor


def contact_public(session: Session, contact: Contact) -> ContactPublic:
    return contacts_public(session, [contact])[0]


def contacts_public(session: Session, rows: Sequence[Any]) -> list[ContactPublic]:
    """The public shape of contacts (ORM objects or rows), their external IDs read in one query."""
    external_ids: dict[int, dict[str, str]] = {}
    merged: dict[int, dict[str, list[str]]] = {}
    found: Iterable[tuple[int, str, str, bool]] = session.exec(
        select(ExternalId.contact_id, Link.name, ExternalId.value, ExternalId.merged)
        .join(Link, col(Link.id) == col(ExternalId.link_id))
        .where(col(ExternalId.contact_id).in_([row.id for row in rows]))
        .order_by(col(ExternalId.id))
    ) if rows else []
    for contact_id, link_name, value, is_merged in found:
        if is_merged:
            merged.setdefault(contact_id, {}).setdefault(link_name, []).append(value)
        else:
            external_ids.setdefault(contact_id, {})[link_name] = value
    return [
        ContactPublic(
            id=row.id,
            email=row.email,
            address_key=row.address_key,
            status=row.status,
            fields=dict(row.attributes),
            external_ids=external_ids.get(row.id, {}),
            merged_external_ids=merged.get(row.id, {}),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )
        for row in rows
    ]


def as_utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
