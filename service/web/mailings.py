"""Mailing pages: the list, the form (segments, the opt-in, personalisation, representative),
and a mailing's page with its preview, send list and send-ledger counts."""

from __future__ import annotations

from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from service.db import current_engine
from service.db import session as db_session
from service.domain import ledger, mailings
from service.domain.segments import catalog_of, segments_of, send_list_rows
from service.errors import DomainError, InvalidInput
from service.http_errors import in_words
from service.models import LedgerState
from service.web.charts import shared_chart_svg
from service.web.language import page_csv
from service.web.pages import page
from service.web.previews import (
    PREVIEW_LINES,
    REPRESENTATIVES,
    counts_of,
    own_mailing,
    representative_choice,
    representative_from,
)
from service.words import gettext, lazy_gettext

MAX_NAME = 200
LEDGER_STATES = (
    (LedgerState.CLAIMED, lazy_gettext("Cleared"),
     lazy_gettext("checked and cleared for sending, not yet confirmed as sent")),
    (LedgerState.SENT, lazy_gettext("Sent"), lazy_gettext("confirmed as sent by the mailing system")),
    (LedgerState.RELEASED, lazy_gettext("Released"),
     lazy_gettext("cleared, then given back (delivery failed before sending)")),
)


def mailing_list() -> ResponseReturnValue:
    session = db_session()
    names = {s.id: s.name for s in segments_of(session, g.account.id)}
    return page("mailings/list.html", mailings=mailings.mailings_of(session, g.account.id),
                segment_names=names)


def _ids(name: str) -> list[int]:
    # "²" is a digit to isdigit, not to int.
    return [int(value) for value in request.form.getlist(name) if value.isascii() and value.isdigit()]


def new_mailing() -> ResponseReturnValue:
    session = db_session()
    segments = segments_of(session, g.account.id)
    fields = list(catalog_of(session, g.account.id).fields)
    form = request.form
    error = None
    if request.method == "POST":
        name = form.get("name", "").strip()
        include, exclude = _ids("include"), _ids("exclude")
        opted_in = form.get("allow_shared_address") == "yes"
        if not name:
            error = gettext("Give the mailing a name.")
        elif len(name) > MAX_NAME:
            error = gettext("A name has at most %(count)s characters.", count=MAX_NAME)
        elif not include:
            error = gettext("Choose at least one segment to send to.")
        elif set(include) & set(exclude):
            error = "A segment cannot be both sent to and left out."
        else:
            try:
                mailing = mailings.create_mailing(
                    session, account=g.account, name=name, include=include, exclude=exclude,
                    allow_shared_address=opted_in, personalized_by=form.getlist("personalized_by"),
                    representative=representative_from(form))
            except InvalidInput as problem:
                error = _in_words(problem)
            except DomainError as problem:
                error = in_words(problem.message)
            else:
                return redirect(url_for("web.mailing_page", mailing_id=mailing.id))
    rule, field = representative_choice(representative_from(form) if form else None)
    return page("mailings/new.html", 400 if error else 200, error=error, segments=segments, fields=fields,
                form=form, include=_ids("include"), exclude=_ids("exclude"),
                personalized_by=form.getlist("personalized_by"),
                opted_in=form.get("allow_shared_address") == "yes", chosen_rule=rule, chosen_field=field,
                representatives=REPRESENTATIVES)


def _in_words(problem: InvalidInput) -> str:
    if problem.part == "personalized_by":
        return gettext("Personal copies by field apply only when each contact gets its own copy: "
                       "turn on the opt-in, or clear the fields.")
    return problem.message


def mailing_page(mailing_id: int) -> ResponseReturnValue:
    session = db_session()
    mailing = own_mailing(mailing_id)
    counts = counts_of(mailings.mailing_audience(session, g.account, mailing))
    segments = {s.id: s for s in segments_of(session, g.account.id)}
    rule, field = representative_choice(mailing.representative)
    return page("mailings/show.html", mailing=mailing, counts=counts, chart=shared_chart_svg(counts.shared),
                preview_lines=PREVIEW_LINES, claimed=ledger.claimed_count(session, mailing.id),
                ledger=ledger.state_counts(session, mailing.id), ledger_states=LEDGER_STATES,
                segments=segments,
                representative=REPRESENTATIVES.get(rule, rule), representative_field=field)


def mailing_csv(mailing_id: int) -> ResponseReturnValue:
    audience = mailings.mailing_audience(db_session(), g.account, own_mailing(mailing_id))
    return page_csv(send_list_rows(current_engine(), audience), f"mailing-{mailing_id}-recipients.csv")


def ledger_csv(mailing_id: int) -> ResponseReturnValue:
    mailing = own_mailing(mailing_id)
    return page_csv(ledger.ledger_rows(current_engine(), mailing.id), f"mailing-{mailing.id}-ledger.csv")
