"""Changing one contact by hand: an edit, an opt-out, a re-subscription with consent, an erasure.

Each change is one transaction that either applies whole or changes nothing: an edit is checked
as an import row is (field types, email-validator, the link's `id_pattern`, the same conflicts)
before anything is written, and `updated_at` moves only when something did. Status changes go
through the history (source `api`), never through an edit: a status says what the person wanted,
which an edit of their data must not overrule.

An erased address in an edit is a Conflict with code `erased_address` (409, like the other
conflicts with what is stored): the address is valid, but the person it belongs to asked to be
forgotten, until an admin lifts the erasure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError
from sqlalchemy import String, case, cast, delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from importer.addresses import AddressValidator, address_key, email_reason
from importer.rows import parse_cell
from importer.said import at, message_of, said, word
from importer.settings import AccountInfo
from importer.values import InvalidValue, Value
from importer.vocabulary import BUILTIN_FIELDS, ContactStatus, DedupMode, FieldType, StatusSource
from service.db import begin_write, own
from service.domain.accounts import account_info
from service.domain.contacts import contact_public, lookup_key
from service.domain.dedup_change import wait_for_change
from service.domain.erasures import address_hash, is_erased, lift_erasure, record_erasure
from service.domain.status_history import Change, record_changes
from service.errors import Conflict, InvalidInput
from service.models import (
    Account,
    Contact,
    ContactEvent,
    ContactPublic,
    DedupChange,
    DedupMerge,
    DedupSurvivor,
    ExternalId,
    ImportJob,
    ImportRejection,
    LedgerEntry,
    Mailing,
    StatusChange,
    utcnow,
)

MAX_ID_LENGTH = 200  # external_ids.value
MAX_DETAIL = 1000  # contact_status_history.detail
ERASED_CELL = "(erased)"  # what a rejected row's cell that held an erased address shows
ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
events = ContactEvent.__table__  # type: ignore[attr-defined]


@dataclass
class ContactEdit:
    """What an edit changes: the address, fields (None clears one), IDs (None removes one)."""

    email: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    external_ids: dict[str, str | None] = field(default_factory=dict)


def _contact_to_change(session: Session, account: Account, contact_id: int, *,
                       after_imports: bool = False) -> Contact:
    """The account's contact, in a write transaction that a running dedup change has let go of
    (it may be merging this very contact away).

    `after_imports`: also wait for an import being applied (PostgreSQL: it holds the account's
    row; SQLite has one writer anyway), so that the import, which reads the erasures under that
    lock, either sees this one or applies before it.
    """
    conn = begin_write(session)
    wait_for_change(conn, account.id)
    if conn.dialect.name == "postgresql":
        if after_imports:
            conn.execute(select(col(Account.id)).where(col(Account.id) == account.id)
                         .with_for_update(read=True))
        # The contact's row lock before reading it, as events take it: an opt-out committing
        # meanwhile is read, not overwritten by a status decided on the row as it was.
        conn.execute(select(col(Contact.id)).where(
            col(Contact.id) == contact_id, col(Contact.account_id) == account.id).with_for_update())
    return own(session, Contact, contact_id, account.id, "contact")


# --- editing ----------------------------------------------------------------------------------------


def edit_contact(session: Session, account: Account, contact_id: int, edit: ContactEdit) -> ContactPublic:
    """Apply an edit of one contact, checked whole before anything is written."""
    contact = _contact_to_change(session, account, contact_id)
    info = account_info(session, account)
    email = _checked_email(session, account, contact, edit.email)
    attributes = _edited_fields(info, contact.attributes, edit.fields)
    id_changes = _checked_ids(session, info, contact, edit.external_ids)
    changed = bool(id_changes) or attributes != contact.attributes or (
        email is not None and email != contact.email)
    if not changed:
        session.commit()  # nothing was written: end the write transaction
        return contact_public(session, contact)
    if email is not None:
        contact.email, contact.address_key = email, address_key(email)
    contact.attributes = attributes
    contact.updated_at = utcnow()
    session.add(contact)
    _apply_ids(session, account.id, contact.id, id_changes)
    try:
        session.commit()
    except IntegrityError as error:  # another writer took the address or the ID meanwhile
        session.rollback()
        if "address" in str(error.orig):
            raise Conflict(said("another contact has this address"), code="address_conflict") from None
        raise Conflict(said("another contact has this ID"), code="id_conflict") from None
    return contact_public(session, contact)


def _checked_email(session: Session, account: Account, contact: Contact, raw: str | None) -> str | None:
    """The edit's address normalized, or None when the edit leaves the address alone."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(at("email", said("a contact needs an address")), code="invalid_email",
                           part="email")
    try:
        email = AddressValidator().normalize(raw.strip())
    except EmailNotValidError as error:
        raise InvalidInput(at("email", email_reason(error)), code="invalid_email", part="email") from None
    key = address_key(email)
    if key == contact.address_key:
        return email
    if is_erased(session, account.id, key):
        raise Conflict(said("this address belongs to a person who asked to be forgotten; an admin can lift "
                            "the erasure"), code="erased_address")
    if account.dedup_mode == DedupMode.EMAIL and session.execute(
            select(col(Contact.id)).where(col(Contact.account_id) == account.id,
                                          col(Contact.address_key) == key, col(Contact.id) != contact.id)
    ).first() is not None:
        raise Conflict(said("another contact has this address"), code="address_conflict")
    return email


def _edited_fields(info: AccountInfo, stored: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """The contact's field values after the edit (each value checked as its field's type)."""
    attributes = dict(stored)
    for name, value in edits.items():
        part = f"fields.{name}"
        if name == "status":
            raise InvalidInput(at(part, said("status is not set by an edit: use events, or resubscribe with "
                                               "consent")), part=part)
        if name in BUILTIN_FIELDS:
            what = said("the email part of the edit") if name == "email" else said("the service")
            raise InvalidInput(at(part, said("%(name)s is a built-in field, set by %(what)s",
                                             name=name, what=what)), part=part)
        if name not in info.fields:
            raise InvalidInput(at(part, said("this account has no field named '%(name)s'", name=name)),
                               part=part)
        parsed = _field_value(value, info.fields[name], part)
        if parsed is None:
            attributes.pop(name, None)
        else:
            attributes[name] = parsed
    return attributes


def _field_value(value: Any, field_type: str, part: str) -> Value | None:
    """A JSON value as the field stores it; None (or an empty text) clears the field."""
    if value is None:
        return None
    if isinstance(value, bool):
        if field_type != FieldType.BOOLEAN:
            raise InvalidInput(at(part, said("a %(type)s field takes no true/false", type=word(field_type))),
                               code="invalid_value",
                               part=part)
        return value
    if isinstance(value, int | float) and field_type == FieldType.NUMBER:
        value = repr(value)  # through the importer's parser: the same limits and rounding
    if not isinstance(value, str):
        kind = word(field_type)
        takes = (said("a %(type)s field takes text or a number", type=kind) if field_type == FieldType.NUMBER
                 else said("a %(type)s field takes text", type=kind))
        raise InvalidInput(at(part, takes), code="invalid_value", part=part)
    text = value.strip()
    if not text:
        return None
    try:
        return parse_cell(text, field_type)
    except InvalidValue as error:
        raise InvalidInput(at(part, message_of(error)), code="invalid_value", part=part) from None


# (link id, the new ID or None to remove the contact's own ID)
IdChanges = dict[int, str | None]


def _checked_ids(session: Session, info: AccountInfo, contact: Contact,
                 edits: dict[str, str | None]) -> IdChanges:
    """The ID changes the edit makes (link id → new value or None), each checked."""
    own_ids: dict[int, str] = dict(session.execute(
        select(col(ExternalId.link_id), col(ExternalId.value)).where(
            col(ExternalId.contact_id) == contact.id, col(ExternalId.merged).is_(False))).all())
    changes: IdChanges = {}
    for name, raw in edits.items():
        part = f"external_ids.{name}"
        link = info.links.get(name)
        if link is None:
            raise InvalidInput(at(part, said("this account has no link named '%(name)s'", name=name)),
                               part=part)
        if raw is not None and not isinstance(raw, str):
            raise InvalidInput(at(part, said("an ID is text")), code="invalid_external_id", part=part)
        value = (raw or "").strip() or None
        if value == own_ids.get(link.id):
            continue
        if value is not None:
            if len(value) > MAX_ID_LENGTH or (link.id_pattern and not re.fullmatch(link.id_pattern, value)):
                shown = value[:MAX_ID_LENGTH]
                problem = (said("'%(value)s' is longer than 200 characters", value=shown)
                           if len(value) > MAX_ID_LENGTH
                           else said("'%(value)s' does not match the link's ID pattern", value=shown))
                raise InvalidInput(at(part, problem),
                                   code="invalid_external_id", part=part)
            holder = session.execute(select(col(ExternalId.contact_id)).where(
                col(ExternalId.link_id) == link.id, col(ExternalId.value) == value)).scalar()
            if holder is not None and holder != contact.id:
                raise Conflict(said("another contact has %(name)s ID '%(value)s'",
                                    name=name, value=value), code="id_conflict")
        elif link.id not in own_ids:
            continue
        changes[link.id] = value
    return changes


def _apply_ids(session: Session, account_id: int, contact_id: int, changes: IdChanges) -> None:
    """Write the ID changes: the own ID of each link replaced or removed.

    A value the contact holds already as a merged ID becomes its own (one row per value).
    """
    for link_id, value in changes.items():
        session.execute(delete(ExternalId).where(
            col(ExternalId.contact_id) == contact_id, col(ExternalId.link_id) == link_id,
            or_(col(ExternalId.merged).is_(False), col(ExternalId.value) == value)))
        if value is not None:
            session.add(ExternalId(account_id=account_id, link_id=link_id, contact_id=contact_id,
                                   value=value, merged=False))
    session.flush()


# --- opting out and in --------------------------------------------------------------------------------


def unsubscribe_contact(session: Session, account: Account, contact_id: int, *,
                        detail: str | None = None) -> ContactPublic:
    """Record an opt-out by hand (the person asked a campaign manager); a bounced contact stays
    bounced (the more restrictive status), and an unsubscribed one as it is."""
    detail = _detail(detail, "detail", required=False)
    contact = _contact_to_change(session, account, contact_id)
    if contact.status == ContactStatus.ACTIVE:
        _set_status(session, account.id, contact, ContactStatus.UNSUBSCRIBED, detail)
    session.commit()
    return contact_public(session, contact)


def resubscribe_contact(session: Session, account: Account, contact_id: int, consent: str, *,
                        admin: bool) -> ContactPublic:
    """Make an unsubscribed contact active again, recording how the person gave consent.

    A bounced contact only with `admin` (someone must have fixed the address first); an active
    contact is returned as it is, with nothing recorded.
    """
    consent_text = _detail(consent, "consent", required=True)
    contact = _contact_to_change(session, account, contact_id)
    if contact.status == ContactStatus.BOUNCED and not admin:
        raise Conflict(said("the contact's address bounced: only support staff (an admin key) can make it "
                            "active again, once the address is fixed"), code="address_bounced")
    if contact.status != ContactStatus.ACTIVE:
        _set_status(session, account.id, contact, ContactStatus.ACTIVE, consent_text)
    session.commit()
    return contact_public(session, contact)


def _detail(text: str | None, part: str, *, required: bool) -> str | None:
    if text is not None and not isinstance(text, str):
        raise InvalidInput(said("%(part)s must be text", part=part), part=part)
    text = (text or "").strip()
    if required and not text:
        raise InvalidInput(said("%(part)s must say how the person gave consent again", part=part), part=part)
    if len(text) > MAX_DETAIL:
        raise InvalidInput(said("%(part)s is longer than %(most)s characters",
                                part=part, most=MAX_DETAIL), part=part)
    return text or None


def _set_status(session: Session, account_id: int, contact: Contact, status: ContactStatus,
                detail: str | None) -> None:
    now = utcnow()
    record_changes(session, account_id, [Change(contact.id, contact.status, status)],
                   source=StatusSource.API, detail=detail, at=now)
    contact.status, contact.updated_at = status, now
    session.add(contact)


# --- erasure ----------------------------------------------------------------------------------------------


def erase_contact(session: Session, account: Account, contact_id: int) -> None:
    """Forget a person: the contact, its fields, IDs, history, merge snapshots and rejected import
    rows, in one transaction.

    What stays: the send ledger's rows (a mailing's counts stay true), with the address and its key
    replaced by their salted hash; the events (for idempotency), their address likewise hashed and
    their detail (an SMTP reply may quote the address) dropped; and the erased address as a hash,
    so that imports and edits refuse it until an admin lifts it. A ledger slot that holds the
    address keeps it while another contact of the account is still at that address: the slot is
    what keeps that inbox from getting the mailing twice. Merge snapshots of contacts merged into
    this one (the same inbox) are deleted: an undo must not bring the person back.
    """
    contact = _contact_to_change(session, account, contact_id, after_imports=True)
    conn = session.connection()
    mailings = select(col(Mailing.id)).where(col(Mailing.account_id) == account.id)
    erased_key = contact.address_key
    keys = {erased_key}
    keys.update(conn.execute(select(ledger.c.address_key).distinct().where(
        ledger.c.contact_id == contact.id, ledger.c.mailing_id.in_(mailings))).scalars())
    keys.update(k for k in conn.execute(select(events.c.address_key).distinct().where(
        events.c.account_id == account.id, events.c.contact_id == contact.id)).scalars() if k)
    still_held = set(conn.execute(select(col(Contact.address_key)).distinct().where(
        col(Contact.account_id) == account.id, col(Contact.address_key).in_(keys),
        col(Contact.id) != contact.id)).scalars())
    for key in sorted(keys):
        _hash_address(session, account.id, contact.id, key, mailings, shared=key in still_held)
    changes = select(col(DedupChange.id)).where(col(DedupChange.account_id) == account.id)
    session.execute(delete(DedupMerge).where(
        col(DedupMerge.change_id).in_(changes),
        or_(col(DedupMerge.contact_id) == contact.id, col(DedupMerge.survivor_id) == contact.id)))
    session.execute(delete(DedupSurvivor).where(col(DedupSurvivor.change_id).in_(changes),
                                                col(DedupSurvivor.contact_id) == contact.id))
    session.execute(delete(StatusChange).where(col(StatusChange.account_id) == account.id,
                                               col(StatusChange.contact_id) == contact.id))
    session.execute(delete(ExternalId).where(col(ExternalId.contact_id) == contact.id))
    session.execute(delete(Contact).where(col(Contact.id) == contact.id))
    _scrub_rejections(session, account.id, keys)
    record_erasure(session, account.id, erased_key)
    session.commit()


def _hash_address(session: Session, account_id: int, contact_id: int, key: str, mailings: Any, *,
                  shared: bool) -> None:
    """Replace one of the person's address keys by its hash in the ledger and the events."""
    digest = address_hash(session, account_id, key)
    values: dict[str, Any] = {"address_key": digest,
                              "address": case((ledger.c.address.is_(None), None), else_=digest)}
    if not shared:
        # The slot is the key, or the key and a personalisation ("key#digest"); each erased slot
        # gets its row's own id, so that the unique index over active slots stays satisfied.
        holds_key = or_(ledger.c.slot == key, func.substr(ledger.c.slot, 1, len(key) + 1) == key + "#")
        values["slot"] = case((holds_key, literal("erased:") + cast(ledger.c.id, String)),
                              else_=ledger.c.slot)
    session.execute(update(ledger).where(ledger.c.contact_id == contact_id, ledger.c.address_key == key,
                                         ledger.c.mailing_id.in_(mailings)).values(values))
    which = [events.c.account_id == account_id, events.c.address_key == key]
    if shared:  # the others' soft bounces at the address still count
        which.append(events.c.contact_id == contact_id)
    session.execute(update(events).where(*which).values(address_key=digest, detail=None))


def _scrub_rejections(session: Session, account_id: int, keys: set[str]) -> None:
    """Empty the account's rejected import rows that hold the person's addresses (ERASED_CELL
    where the address was).

    The rows are the files' cells as they were (for the rejected-rows download); a filter on the
    stored document's text finds the few that may hold an address (SQLite's text escapes
    non-ASCII), and each of their cells is then compared by its address key.
    """
    document = func.lower(cast(col(ImportRejection.cells), String))
    spellings = {spelling for key in keys for spelling in (key, json.dumps(key)[1:-1])}
    imports = select(col(ImportJob.id)).where(col(ImportJob.account_id) == account_id)
    candidates = session.exec(select_rows(ImportRejection).where(
        col(ImportRejection.import_id).in_(imports),
        or_(*(document.contains(spelling, autoescape=True) for spelling in spellings))))
    for rejection in candidates:
        held = [lookup_key(cell) in keys for cell in rejection.cells]
        if any(held):  # the row is the person's: its other cells go too (row number and reason stay)
            rejection.cells = [ERASED_CELL if here else "" for here in held]
            session.add(rejection)


def lift(session: Session, account: Account, address: str) -> int:
    """Let an erased address be imported and edited in again; returns 1 if it was erased, else 0."""
    if not isinstance(address, str) or not address.strip():
        raise InvalidInput(said("address must be an e-mail address"), part="address")
    begin_write(session)
    lifted = lift_erasure(session, account.id, lookup_key(address))
    session.commit()
    return lifted
