"""The mailing form, new or changed: segments, the opt-in, personalisation, representative, with a
live preview of whom the mailing would reach while it is composed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import g, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from segments.collapse import Preview
from service.db import session as db_session
from service.domain import mailings
from service.domain.segments import catalog_of, segments_of
from service.errors import Conflict, DomainError, InvalidInput, TooLarge
from service.http_errors import in_words
from service.models import Mailing
from service.web.charts import shared_chart_svg
from service.web.pages import page
from service.web.previews import (
    PREVIEW_LINES,
    REPRESENTATIVES,
    counts_of,
    own_mailing,
    representative_choice,
    representative_from,
)
from service.words import gettext


def _ids(values: list[str]) -> list[int]:
    # "²" is a digit to isdigit, not to int.
    return [int(value) for value in values if value.isascii() and value.isdigit()]


@dataclass
class MailingForm:
    """What the form holds: a mailing's name and settings as chosen, not yet checked."""

    name: str = ""
    include: list[int] = field(default_factory=list)
    exclude: list[int] = field(default_factory=list)
    allow_shared_address: bool = False
    personalized_by: list[str] = field(default_factory=list)
    representative: Any = "most_recently_updated"

    @classmethod
    def read(cls, form: MultiDict) -> MailingForm:
        return cls(name=form.get("name", "").strip(), include=_ids(form.getlist("include")),
                   exclude=_ids(form.getlist("exclude")),
                   allow_shared_address=form.get("allow_shared_address") == "yes",
                   personalized_by=form.getlist("personalized_by"), representative=representative_from(form))

    @classmethod
    def of(cls, mailing: Mailing) -> MailingForm:
        return cls(name=mailing.name, **mailings.settings_of(mailing))

    def settings(self) -> dict[str, Any]:
        return {"include": self.include, "exclude": self.exclude,
                "allow_shared_address": self.allow_shared_address,
                "personalized_by": self.personalized_by, "representative": self.representative}

    def problem(self) -> str | None:
        """What is wrong with the choice of segments, in words (None: nothing the form can see)."""
        if not self.include:
            return gettext("Choose at least one segment to send to.")
        if set(self.include) & set(self.exclude):
            return gettext("A segment cannot be both sent to and left out.")
        return None

    def name_problem(self) -> str | None:
        if not self.name:
            return gettext("Give the mailing a name.")
        if len(self.name) > mailings.MAX_NAME:
            return gettext("A name has at most %(count)s characters.", count=mailings.MAX_NAME)
        return None


def _in_words(problem: DomainError) -> str:
    if isinstance(problem, InvalidInput) and problem.part == "personalized_by":
        return gettext("Personal copies by field apply only when each contact gets its own copy: "
                       "turn on the opt-in, or clear the fields.")
    return in_words(problem.message)


def _counts(form: MailingForm) -> tuple[Preview | None, str | None]:
    """Whom the form's mailing would reach, or (None, why it cannot be counted yet)."""
    problem = form.problem()
    if problem:
        return None, problem
    session = db_session()
    try:
        settings = mailings.checked_settings(session, g.account, **form.settings())
        return counts_of(mailings.settings_audience(session, g.account, settings)), None
    except (InvalidInput, TooLarge) as error:
        return None, _in_words(error)


def _form_page(form: MailingForm, error: str | None, mailing: Mailing | None) -> ResponseReturnValue:
    session = db_session()
    rule, chosen_field = representative_choice(form.representative)
    counts, why = _counts(form)
    fields = list(catalog_of(session, g.account.id).fields)
    return page("mailings/new.html", 400 if error else 200, error=error, mailing=mailing,
                segments=segments_of(session, g.account.id), fields=fields,
                form=form, chosen_rule=rule, chosen_field=chosen_field, representatives=REPRESENTATIVES,
                counts=counts, chart=shared_chart_svg(counts.shared if counts else {}),
                preview_lines=PREVIEW_LINES, preview_problem=why)


def _save(form: MailingForm, mailing: Mailing | None) -> Mailing:
    session = db_session()
    if mailing is None:
        return mailings.create_mailing(session, account=g.account, name=form.name, **form.settings())
    return mailings.change_mailing(session, account=g.account, mailing=mailing,
                                   changes={"name": form.name, **form.settings()})


def _submitted(mailing: Mailing | None) -> ResponseReturnValue:
    form = MailingForm.read(request.form)
    error = form.name_problem() or form.problem()
    if error is None:
        try:
            saved = _save(form, mailing)
        except Conflict as problem:
            if problem.code == "mailing_started":
                return fixed_page(mailing)
            error = _in_words(problem)
        except DomainError as problem:
            error = _in_words(problem)
        else:
            return redirect(url_for("web.mailing_page", mailing_id=saved.id))
    return _form_page(form, error, mailing)


def new_mailing() -> ResponseReturnValue:
    if request.method == "POST":
        return _submitted(None)
    return _form_page(MailingForm(), None, None)


def edit_mailing(mailing_id: int) -> ResponseReturnValue:
    """The same form for a mailing no check has cleared anyone for; a started one is fixed."""
    mailing = own_mailing(mailing_id)
    if mailings.has_started(db_session(), mailing.id):
        return fixed_page(mailing)
    if request.method == "POST":
        return _submitted(mailing)
    return _form_page(MailingForm.of(mailing), None, mailing)


def fixed_page(mailing: Mailing | None) -> ResponseReturnValue:
    return page("mailings/fixed.html", 409, mailing=mailing)


def preview_form() -> ResponseReturnValue:
    """The form's live preview: its fields as JSON in (lists for the check boxes), counts and the
    chart out; a POST with the form's CSRF token in a header, as the segment builder's."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error={"message": "expected a JSON object"}), 400
    values: MultiDict = MultiDict()
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            values.add(str(key), str(item))
    counts, problem = _counts(MailingForm.read(values))
    if counts is None:
        return jsonify(error={"message": problem})
    return jsonify(preview=counts.to_json(), chart=str(shared_chart_svg(counts.shared)))
