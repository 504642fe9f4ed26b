"""The home page: the account's dedup rule in plain words, its links, contact counts, recent imports."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask.typing import ResponseReturnValue
from sqlalchemy import case, func, select
from sqlmodel import Session, col

from importer.vocabulary import ContactStatus
from service.db import session as db_session
from service.domain.accounts import links_of
from service.domain.import_list import import_page
from service.models import Contact, ImportJob
from service.web.pages import page

RECENT_IMPORTS = 10


@dataclass(frozen=True)
class ContactCounts:
    total: int
    unsubscribed: int
    bounced: int
    shared_addresses: int  # addresses that several contacts share


def contact_counts(session: Session, account_id: int) -> ContactCounts:
    """Count the account's contacts in two aggregate queries (never by loading them)."""
    mine = col(Contact.account_id) == account_id
    total, unsubscribed, bounced = session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((col(Contact.status) == ContactStatus.UNSUBSCRIBED, 1), else_=0)), 0),
        func.coalesce(func.sum(case((col(Contact.status) == ContactStatus.BOUNCED, 1), else_=0)), 0),
    ).where(mine)).one()
    shared_keys = (select(col(Contact.address_key)).where(mine).group_by(col(Contact.address_key))
                   .having(func.count() > 1).subquery())
    shared = session.execute(select(func.count()).select_from(shared_keys)).scalar_one()
    return ContactCounts(int(total), int(unsubscribed), int(bounced), int(shared))


def recent_imports(session: Session, account_id: int) -> list[tuple[ImportJob, int | None]]:
    """The latest real imports with their numbers (the wizard's dry runs are left out)."""
    return import_page(session, account_id, before=0, limit=RECENT_IMPORTS, real_only=True)[0]


def home() -> ResponseReturnValue:
    session = db_session()
    account = g.account
    return page("home.html", links=links_of(session, account.id),
                counts=contact_counts(session, account.id),
                imports=recent_imports(session, account.id))
