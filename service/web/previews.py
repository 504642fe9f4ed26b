"""What the segment and mailing pages share: preview counts, the representative choice, and
the account's own segments and mailings (404 for anyone else's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g

from segments.collapse import Audience, Preview, preview
from service.db import current_engine
from service.db import session as db_session
from service.domain import mailings
from service.domain import segments as segment_domain
from service.models import Mailing, Segment
from service.words import lazy_gettext

# (key of the preview, label, explanation): the numbers a campaign manager sees before sending.
PREVIEW_LINES = [
    ("contacts", lazy_gettext("Contacts"), lazy_gettext("match and may be mailed")),
    ("addresses", lazy_gettext("Addresses"), lazy_gettext("distinct e-mail addresses among them")),
    ("recipients", lazy_gettext("Recipients"), lazy_gettext("get the mail, after one copy per address")),
    ("collapsed", lazy_gettext("Collapsed"),
     lazy_gettext("contacts left out because another contact at their address gets it")),
    ("excluded", lazy_gettext("Excluded"), lazy_gettext("match, but unsubscribed or bounced")),
]

REPRESENTATIVES = {
    "most_recently_updated": lazy_gettext("The most recently updated contact"),
    "oldest": lazy_gettext("The oldest contact (added first)"),
    "prefer_non_empty": lazy_gettext("A contact with a value in a field"),
}


def representative_from(values: Mapping[str, str]) -> str | dict[str, Any]:
    """The representative rule chosen on a form (or in a page's query)."""
    rule = values.get("representative") or "most_recently_updated"
    if rule == "prefer_non_empty":
        return {"rule": rule, "field": values.get("representative_field", "")}
    return rule


def representative_choice(rule: Any) -> tuple[str, str]:
    """A stored or chosen rule as the form shows it: (rule name, field)."""
    if isinstance(rule, dict):
        return str(rule.get("rule", "")), str(rule.get("field") or "")
    return str(rule or "most_recently_updated"), ""


def counts_of(audience: Audience) -> Preview:
    with current_engine().connect() as conn:
        return preview(conn, audience)


def own_segment(segment_id: int) -> Segment:
    """The signed-in account's segment; NotFound (the 404 page) for anyone else's."""
    return segment_domain.own_segment(db_session(), g.account.id, segment_id)


def own_mailing(mailing_id: int) -> Mailing:
    """The signed-in account's mailing; NotFound (the 404 page) for anyone else's."""
    return mailings.own_mailing(db_session(), g.account.id, mailing_id)
