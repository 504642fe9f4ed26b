"""Mailing pages: the list, a mailing's page with its preview, send list (with the links' IDs) and
send-ledger counts, and its copy and deletion (the form is service/web/mailing_forms.py)."""

from __future__ import annotations

from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from segments.collapse import Audience, recipients_query
from service.db import current_engine
from service.db import session as db_session
from service.domain import ledger, mailings
from service.domain.accounts import links_of
from service.domain.contacts import contacts_public
from service.domain.segments import segments_of, send_list_rows
from service.errors import Conflict
from service.models import ContactPublic, LedgerState
from service.web.charts import shared_chart_svg
from service.web.language import page_csv
from service.web.mailing_forms import fixed_page
from service.web.pages import page
from service.web.previews import PREVIEW_LINES, REPRESENTATIVES, counts_of, own_mailing, representative_choice
from service.words import gettext, lazy_gettext

LEDGER_STATES = (
    (LedgerState.CLAIMED, lazy_gettext("Cleared"),
     lazy_gettext("checked and cleared for sending, not yet confirmed as sent")),
    (LedgerState.SENT, lazy_gettext("Sent"), lazy_gettext("confirmed as sent by the mailing system")),
    (LedgerState.RELEASED, lazy_gettext("Released"),
     lazy_gettext("cleared, then given back (delivery failed before sending)")),
)

SEND_LIST_SAMPLE = 20  # recipients shown on the page; the CSV has them all


def send_list_sample(session: Session, audience: Audience) -> list[ContactPublic]:
    """The send list's first recipients, with their IDs in each link."""
    rows = session.connection().execute(recipients_query(audience, limit=SEND_LIST_SAMPLE)).all()
    return contacts_public(session, rows)


def mailing_list() -> ResponseReturnValue:
    session = db_session()
    names = {s.id: s.name for s in segments_of(session, g.account.id)}
    return page("mailings/list.html", mailings=mailings.mailings_of(session, g.account.id),
                segment_names=names)


def mailing_page(mailing_id: int) -> ResponseReturnValue:
    session = db_session()
    mailing = own_mailing(mailing_id)
    audience = mailings.mailing_audience(session, g.account, mailing)
    counts = counts_of(audience)
    segments = {s.id: s for s in segments_of(session, g.account.id)}
    rule, field = representative_choice(mailing.representative)
    return page("mailings/show.html", mailing=mailing, counts=counts, chart=shared_chart_svg(counts.shared),
                preview_lines=PREVIEW_LINES, claimed=ledger.claimed_count(session, mailing.id),
                ledger=ledger.state_counts(session, mailing.id), ledger_states=LEDGER_STATES,
                segments=segments, started=mailings.has_started(session, mailing.id),
                send_list=send_list_sample(session, audience), account_links=links_of(session, g.account.id),
                representative=REPRESENTATIVES.get(rule, rule), representative_field=field)


def copy_mailing(mailing_id: int) -> ResponseReturnValue:
    """A copy with the same settings and an empty ledger, named in the page's language."""
    mailing = own_mailing(mailing_id)
    copy = mailings.copy_mailing(db_session(), account=g.account, mailing=mailing, name=None,
                                 default=gettext("Copy of %(name)s"))
    return redirect(url_for("web.mailing_page", mailing_id=copy.id))


def delete_mailing(mailing_id: int) -> ResponseReturnValue:
    """A confirmation, then the deletion; refused once a check has cleared anyone."""
    session = db_session()
    mailing = own_mailing(mailing_id)
    if mailings.has_started(session, mailing.id):
        return fixed_page(mailing)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        try:
            mailings.delete_mailing(session, mailing)
        except Conflict:  # a check cleared someone meanwhile
            return fixed_page(mailing)
        return redirect(url_for("web.mailing_list"))
    return page("mailings/delete.html", mailing=mailing)


def mailing_csv(mailing_id: int) -> ResponseReturnValue:
    audience = mailings.mailing_audience(db_session(), g.account, own_mailing(mailing_id))
    return page_csv(send_list_rows(current_engine(), audience), f"mailing-{mailing_id}-recipients.csv")


def ledger_csv(mailing_id: int) -> ResponseReturnValue:
    mailing = own_mailing(mailing_id)
    return page_csv(ledger.ledger_rows(current_engine(), mailing.id), f"mailing-{mailing.id}-ledger.csv")
