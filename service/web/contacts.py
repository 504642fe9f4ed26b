"""Contact pages: the list (search by address or ID, filter by status, keyset pages), a contact's
page (fields, IDs, status and its history in words), and the export of all contacts.

The changes made from a contact's page (edit, unsubscribe, re-subscribe, erase) are in
service/web/contact_actions.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import g, request
from flask.typing import ResponseReturnValue
from sqlmodel import Session, col, select

from importer.vocabulary import ContactStatus, StatusSource
from service.db import current_engine, own
from service.db import session as db_session
from service.domain.accounts import fields_of, links_of
from service.domain.contact_export import export_rows
from service.domain.contact_search import search_contacts, search_of, status_counts
from service.domain.contacts import as_utc, contact_public
from service.domain.import_list import import_numbers
from service.domain.status_history import history_of
from service.errors import InvalidInput
from service.http_errors import in_words
from service.models import Contact, ContactEvent, StatusChange
from service.web.language import page_csv
from service.web.pages import page
from service.words import gettext, lazy_gettext

STATUS_WORDS = {
    ContactStatus.ACTIVE: lazy_gettext("Active"),
    ContactStatus.UNSUBSCRIBED: lazy_gettext("Unsubscribed"),
    ContactStatus.BOUNCED: lazy_gettext("Bounced"),
}
EVENT_WORDS = {
    "unsubscribe": lazy_gettext("unsubscribe"), "complaint": lazy_gettext("spam complaint"),
    "hard_bounce": lazy_gettext("hard bounce"),
}


@dataclass(frozen=True)
class HistoryLine:
    """One status change as the contact's page says it."""

    at: datetime
    status_from: str | None
    status_to: str
    source: str  # in words: "import #12", "event: hard bounce", "by hand", ...
    import_id: int | None  # for a link to the import's report
    detail: str | None


def contact_list() -> ResponseReturnValue:
    session = db_session()
    after, before = request.args.get("after", type=int), request.args.get("before", type=int)
    try:
        search = search_of(request.args.get("q"), request.args.get("status"))
    except InvalidInput as problem:
        return page("contacts/list.html", 400, error=in_words(problem.message), result=None, counts=None,
                    statuses=STATUS_WORDS, query=request.args.get("q", "")[:400], status_filter="",
                    links={})
    # The counts read the whole account (most of a page's time at a million contacts): the
    # overview shows them, a search or a further page does without.
    overview = search.text is None and after is None and before is None
    result = search_contacts(session, g.account.id, search, after=after, before=before)
    labels = {link.name: link.label for link in links_of(session, g.account.id)}
    return page("contacts/list.html", error=None, result=result,
                counts=status_counts(session, g.account.id) if overview else None,
                statuses=STATUS_WORDS, query=search.text or "", status_filter=search.status or "",
                links=labels)


def contact_page(contact_id: int) -> ResponseReturnValue:
    session = db_session()
    contact = contact_public(session, own(session, Contact, contact_id, g.account.id, "contact"))
    return page("contacts/show.html", contact=contact, fields=fields_of(session, g.account.id),
                links=links_of(session, g.account.id), statuses=STATUS_WORDS,
                history=history_lines(session, g.account.id, contact_id), is_admin=bool(g.user.is_admin))


def contacts_csv() -> ResponseReturnValue:
    """Every contact of the account, streamed as the API's export is."""
    return page_csv(export_rows(current_engine(), g.account.id), f"contacts-{g.account.id}.csv")


def history_lines(session: Session, account_id: int, contact_id: int) -> list[HistoryLine]:
    """The contact's status history, newest first, each change's source in words."""
    changes = history_of(session, account_id, contact_id)
    event_ids = [c.source_id for c in changes if c.source == StatusSource.EVENT and c.source_id is not None]
    event_types = dict(session.exec(
        select(ContactEvent.id, ContactEvent.type)
        .where(col(ContactEvent.account_id) == account_id, col(ContactEvent.id).in_(event_ids))
    ).all()) if event_ids else {}
    numbers = import_numbers(session, account_id, [
        c.source_id for c in changes if c.source == StatusSource.IMPORT and c.source_id is not None])
    return [HistoryLine(as_utc(change.at), change.status_from, change.status_to,
                        source_words(change, event_types, numbers),
                        change.source_id if change.source == StatusSource.IMPORT else None, change.detail)
            for change in reversed(changes)]


def source_words(change: StatusChange, event_types: dict[int, str], import_numbers: dict[int, int]) -> str:
    """What changed the status, as a person says it (an import by its number, as the imports page)."""
    number = change.source_id
    if change.source == StatusSource.IMPORT:
        number = import_numbers.get(number) if number is not None else None
        return gettext("import #%(number)s", number=number) if number is not None else gettext("import")
    if change.source == StatusSource.EVENT:
        kind = event_types.get(change.source_id or 0)
        if kind == "soft_bounce":  # a soft bounce bounces an address only as the third in 30 days
            return gettext("event: soft bounce (the third within 30 days)")
        return gettext("event: %(kind)s", kind=EVENT_WORDS.get(kind, kind)) if kind else gettext("event")
    if change.source == StatusSource.API:
        return gettext("by hand")
    if change.source == StatusSource.MERGE:
        return gettext("merge (dedup change #%(number)s)", number=number) if number else gettext("merge")
    if change.source == StatusSource.UNDO:
        return gettext("undo (of dedup change #%(number)s)", number=number) if number else gettext("undo")
    return change.source
