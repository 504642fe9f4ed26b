"""Accounts, their links and fields: the data-access functions the API and the CLI share."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from importer.id_patterns import IdPatternError, id_matcher
from importer.said import message_of, said
from importer.settings import AccountInfo, LinkInfo
from importer.vocabulary import BUILTIN_FIELDS, DedupMode, FieldType
from service.db import all_of, insert_unique
from service.errors import Conflict, InvalidInput
from service.models import (
    FIELD_NAME_PATTERN,
    LINK_NAME_PATTERN,
    Account,
    AccountPublic,
    ContactField,
    FieldPublic,
    Link,
    LinkPublic,
)


def create_account(session: Session, *, name: str, dedup_mode: str = "email") -> Account:
    if dedup_mode not in tuple(DedupMode):
        raise InvalidInput(said("dedup_mode must be one of %(modes)s",
                                modes=', '.join(DedupMode)), part="dedup_mode")
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise Conflict(said("an account named '%(name)s' exists already", name=name))
    account = Account(name=name, dedup_mode=dedup_mode)
    session.add(account)
    session.commit()
    return account


def find_account(session: Session, name: str) -> Account | None:
    return session.exec(select(Account).where(Account.name == name)).first()


def links_of(session: Session, account_id: int) -> list[Link]:
    return all_of(session, Link, account_id)


def fields_of(session: Session, account_id: int) -> list[ContactField]:
    return all_of(session, ContactField, account_id)


def create_link(session: Session, *, account: Account, name: str, label: str,
                id_pattern: str | None = None) -> Link:
    # Checked here too (not only by LinkCreate) because the command line comes this way.
    if not re.fullmatch(LINK_NAME_PATTERN, name) or len(name) > 50:
        raise InvalidInput(said("'%(name)s' is not a valid link name (lower-case letters, digits and _; at "
                                "most 50)", name=name), part="name")
    if id_pattern is not None:
        try:
            id_matcher(id_pattern)  # RE2: no pattern can make matching slow
        except IdPatternError as error:
            raise InvalidInput(said("id_pattern is not a valid regular expression: %(error)s",
                                    error=message_of(error)),
                               part="id_pattern") from None
    link = Link(account_id=account.id, name=name, label=label, id_pattern=id_pattern)
    return insert_unique(session, link, said("this account has a link named '%(name)s' already", name=name))


def create_field(session: Session, *, account: Account, name: str, type: str,
                 label: str | None = None) -> ContactField:
    if type not in tuple(FieldType):
        raise InvalidInput(said("type must be one of %(types)s",
                                types=', '.join(FieldType)), part="type")
    if not re.fullmatch(FIELD_NAME_PATTERN, name) or len(name) > 63:
        raise InvalidInput(said("'%(name)s' is not a valid field name (a letter, then letters, digits or _; "
                                "at most 63)", name=name), part="name")
    if name in BUILTIN_FIELDS:
        raise Conflict(said("'%(name)s' is a built-in field", name=name))
    field = ContactField(account_id=account.id, name=name, type=type, label=label)
    return insert_unique(session, field, said("this account has a field named '%(name)s' already", name=name))


def account_public(session: Session, account: Account) -> AccountPublic:
    builtins = [FieldPublic(name=name, type=type_, builtin=True) for name, type_ in BUILTIN_FIELDS.items()]
    return AccountPublic(
        id=account.id,
        name=account.name,
        dedup_mode=DedupMode(account.dedup_mode),
        links=[LinkPublic.model_validate(link, from_attributes=True)
               for link in links_of(session, account.id)],
        fields=builtins + [FieldPublic(id=f.id, name=f.name, type=FieldType(f.type), label=f.label)
                           for f in fields_of(session, account.id)],
    )


def account_info(session: Session, account: Account) -> AccountInfo:
    """The importer's view of the account: its mode, fields and links."""
    return AccountInfo(
        id=account.id,
        dedup_mode=account.dedup_mode,
        fields={f.name: f.type for f in fields_of(session, account.id)},
        links={link.name: LinkInfo(link.id, link.name, link.id_pattern)
               for link in links_of(session, account.id)},
        last_import_link_id=account.last_import_link_id,
    )
