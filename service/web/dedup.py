"""The dedup-rule page: the account's rule, the impact preview of a change (every user), and
apply and undo with a confirmation (admin users, support staff, only).

The domain (service.domain.dedup_change) does the work; this module says its errors as a
message on the page, never a JSON body or a stack trace.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from importer.said import at, said
from service.db import current_engine
from service.db import session as db_session
from service.domain import dedup_change
from service.domain.accounts import fields_of, links_of
from service.domain.possible_doubles import possible_doubles
from service.errors import DomainError, InvalidInput
from service.http_errors import in_words, status_of
from service.models import Account
from service.web.pages import page
from service.words import format_decimal, gettext, lazy_gettext, ngettext, say, without_part

REPRESENTATIVES = {
    "most_recently_updated": lazy_gettext("The most recently updated contact"),
    "oldest": lazy_gettext("The oldest contact (created first)"),
    "prefer_non_empty": lazy_gettext("A contact with a value in a field (choose the field)"),
}
# How a merge resolves a conflict (segments/merge.py), as the page says it: the status, any other field.
RESOLUTIONS = {
    "status": lazy_gettext("the most restrictive status wins: bounced over unsubscribed over active"),
    "*": lazy_gettext("the surviving contact's value wins; where it has none, the next contact's value "
                      "fills it"),
}
CHART_WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH, COUNT_WIDTH = 420, 22, 10, 150, 70


def target_of(account: Account) -> str:
    """The rule a change would switch to: there are two, so it is always the other one."""
    return "external_id" if account.dedup_mode == "email" else "email"


def _choices() -> dict[str, str]:
    """The preview form's choices, from the query string (GET) or the apply form (POST)."""
    values = request.values
    return {"link": values.get("link", ""), "representative": values.get("representative", ""),
            "prefer_field": values.get("prefer_field", "")}


def _representative(choices: dict[str, str]) -> Any:
    rule = choices["representative"] or "most_recently_updated"
    if rule == "prefer_non_empty":
        if not choices["prefer_field"]:
            survives = said("choose the field whose value makes a contact survive")
            raise InvalidInput(at("representative", survives), part="representative")
        return {"rule": rule, "field": choices["prefer_field"]}
    return rule


def _preview(account: Account, choices: dict[str, str]) -> dict[str, Any]:
    to = target_of(account)
    if to == "external_id":
        return dedup_change.preview(db_session(), account, to=to, link=choices["link"])
    return dedup_change.preview(db_session(), account, to=to, representative=_representative(choices))


def _message(error: DomainError) -> tuple[str, int]:
    if isinstance(error, InvalidInput) and (error.part or "").startswith("representative"):
        reason = say(without_part(error.message))
        return gettext("The representative rule cannot be used: %(reason)s.", reason=reason), 400
    return in_words(error.message), status_of(error)


def _render(status: int = 200, *, preview: dict[str, Any] | None = None, error: str | None = None,
            confirm_error: str | None = None, choices: dict[str, str] | None = None) -> tuple[str, int]:
    session = db_session()
    # Read afresh: apply and undo close the request's session and change the account.
    account = session.get(Account, g.account.id)
    assert account is not None  # the signed-in user's account
    g.account = account
    history = dedup_change.history(session, account.id)
    undoable = next((change["change_id"] for change in history if change["undone_at"] is None), None)
    return page("dedup/page.html", status, to=target_of(account), links=links_of(session, account.id),
                fields=fields_of(session, account.id), representatives=REPRESENTATIVES,
                resolutions=RESOLUTIONS,
                choices=choices or _choices(), preview=preview, chart=preview and impact_chart(preview),
                error=error, confirm_error=confirm_error, history=history, undoable=undoable,
                is_admin=bool(g.user.is_admin), doubles=possible_doubles(session, account.id))


def dedup_page() -> ResponseReturnValue:
    """The page; with `preview=1` in the query, also the impact of the change."""
    if not request.args.get("preview"):
        return _render()
    try:
        preview = _preview(g.account, _choices())
    except DomainError as error:
        message, status = _message(error)
        return _render(status, error=message)
    return _render(preview=preview)


def _refused() -> tuple[str, int] | None:
    """A refusal page for a user who is not support staff (campaign managers only preview)."""
    if g.user.is_admin:
        return None
    return page("error.html", 403, title=gettext("Only support staff can do this"),
                message=gettext("Campaign managers can preview a change of the dedup rule; applying or "
                                "undoing it is for support staff (admin users)."))


def dedup_apply() -> ResponseReturnValue:
    """Apply the previewed change, once the admin has ticked that they read the preview."""
    if refusal := _refused():
        return refusal
    account, choices = g.account, _choices()
    if request.form.get("to") != target_of(account):
        return _render(409, error=gettext("The account's rule has changed since the preview: look at it "
                                          "again."))
    try:
        if request.form.get("confirm") != "yes":
            return _render(400, preview=_preview(account, choices), choices=choices,
                           confirm_error=gettext("Tick “I have read the preview” to apply the change."))
        to = target_of(account)
        result = dedup_change.apply(current_engine(), db_session(), account, to=to,
                                    link=choices["link"] or None,
                                    representative=_representative(choices) if to == "email" else None)
    except DomainError as error:
        message, status = _message(error)
        return _render(status, error=message, choices=choices)
    applied = gettext("Change %(number)s is applied: contacts are now deduplicated by %(rule)s",
                      number=result["change_id"], rule=_mode_words(to))
    if to == "email":
        applied += "; " + ngettext("%(count)s contact was merged away", "%(count)s contacts were merged away",
                                   result["merged"], count=format_decimal(result["merged"]))
    flash(applied + ".")
    return redirect(url_for("web.dedup_page"))


def dedup_undo() -> ResponseReturnValue:
    """Undo the latest change, once the admin has ticked the confirmation."""
    if refusal := _refused():
        return refusal
    change_id = request.form.get("change_id", "")
    if not (change_id.isascii() and change_id.isdigit()):  # "²" is a digit to isdigit, not to int
        return _render(400, error=gettext("Say which change to undo."))
    if request.form.get("confirm") != "yes":
        return _render(400, confirm_error=gettext("Tick “Undo change %(number)s” to undo it.",
                                                  number=change_id))
    try:
        result = dedup_change.undo(current_engine(), g.account, int(change_id))
    except DomainError as error:
        message, status = _message(error)
        return _render(status, error=message)
    flash(ngettext("Change %(number)s is undone: %(count)s contact was restored, and contacts are "
                   "deduplicated by %(rule)s again.",
                   "Change %(number)s is undone: %(count)s contacts were restored, and contacts are "
                   "deduplicated by %(rule)s again.", result["restored"], number=change_id,
                   count=format_decimal(result["restored"]), rule=_mode_words(result["dedup_mode"])))
    return redirect(url_for("web.dedup_page"))


def _mode_words(mode: str) -> str:
    return gettext("e-mail address") if mode == "email" else gettext("external ID")


def impact_chart(preview: dict[str, Any]) -> Markup:
    """Contacts before and after the change (or without an ID for the link) as an SVG bar chart."""
    if preview["to"] == "email":
        bars = [(gettext("Contacts now"), preview["contacts_before"]),
                (gettext("After the change"), preview["contacts_after"]),
                (gettext("Merged away"), preview["merged_away"])]
    else:
        bars = [(gettext("Contacts"), preview["contacts"]),
                (gettext("Without a %(link)s ID", link=preview["link"]), preview["without_id"])]
    return bar_chart(bars, gettext("Contacts before and after the change"))


def bar_chart(bars: list[tuple[str, int]], title: str) -> Markup:
    """Horizontal bars in proportion to the largest; plain SVG, so it needs no script."""
    largest = max((count for _, count in bars), default=0) or 1  # all zero: no bars, same shape
    room = CHART_WIDTH - LABEL_WIDTH - COUNT_WIDTH
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    summary = ", ".join(f"{label}: {format_decimal(count)}" for label, count in bars)
    parts = [f'<svg class="dedup-chart" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" height="{height}" role="img" '
             'aria-labelledby="dedup-chart-title">',
             f'<title id="dedup-chart-title">{escape(title)}: {escape(summary)}</title>']
    for i, (label, count) in enumerate(bars):
        y = GAP + i * (BAR_HEIGHT + GAP)
        length = round(room * count / largest)
        middle = y + BAR_HEIGHT / 2
        parts.append(f'<g data-label="{escape(label)}" data-count="{count}">'
                     f'<text x="0" y="{middle}" dominant-baseline="middle" class="dedup-chart-label">'
                     f'{escape(label)}</text>'
                     f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" rx="3" '
                     f'class="dedup-chart-bar dedup-chart-bar-{i}"/>'
                     f'<text x="{LABEL_WIDTH + length + 6}" y="{middle}" dominant-baseline="middle" '
                     f'class="dedup-chart-count">{format_decimal(count)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
