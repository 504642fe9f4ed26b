"""Segment pages: the list, the builder with its live preview (for a new segment and for changing
one), a segment's page and send list, and deleting it."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, g, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from importer.said import said
from importer.vocabulary import ContactStatus
from segments.collapse import Audience
from segments.rules import OPERATORS, Catalog
from service import background, safe_json
from service.db import current_engine
from service.db import session as db_session
from service.domain.segments import (
    catalog_of,
    change_segment,
    create_segment,
    mailings_using,
    remove_segment,
    rules_audience,
    segment_audience,
    segments_of,
    send_list_rows,
)
from service.errors import Conflict, DomainError, InvalidInput, TooLarge
from service.http_errors import in_words
from service.models import Segment
from service.web.charts import shared_chart_svg
from service.web.contacts import STATUS_WORDS
from service.web.language import FIELD_TYPES, page_csv
from service.web.pages import page
from service.web.previews import (
    PREVIEW_LINES,
    REPRESENTATIVES,
    counts_of,
    own_segment,
    representative_choice,
    representative_from,
)
from service.web.rule_words import BUILTIN_LABELS, OPERATOR_LABELS, field_labels, readable_error
from service.words import gettext, lazy_gettext, say

EVERYONE = '{"all": []}'
MAX_NAME = 200

# The builder's own words (service/static/app.js), in the page's language.
BUILDER_WORDS = {
    "all": lazy_gettext("all of these"), "any": lazy_gettext("any of these"),
    "none": lazy_gettext("none of these"), "notall": lazy_gettext("not all of these"),
    "days": lazy_gettext("Days"), "years": lazy_gettext("Years"), "values": lazy_gettext("Values"),
    "values_hint": lazy_gettext("values, separated by commas"), "from": lazy_gettext("From"),
    "to": lazy_gettext("To"), "value": lazy_gettext("Value"), "field": lazy_gettext("Field"),
    "test": lazy_gettext("Test"), "remove": lazy_gettext("Remove"),
    "remove_condition": lazy_gettext("Remove this condition"), "match": lazy_gettext("Contacts that match"),
    "remove_group": lazy_gettext("Remove group"),
    "empty_everyone": lazy_gettext("No conditions yet: everyone."),
    "empty_no_one": lazy_gettext("No conditions yet: no one."),
    "add_condition": lazy_gettext("Add a condition"),
    "add_group": lazy_gettext("Add a group"), "true": lazy_gettext("true"), "false": lazy_gettext("false"),
    "preview_failed": lazy_gettext("The preview could not be updated; try again."),
    "no_value_yet": lazy_gettext("Give a value: until then this condition leaves no one out."),
}


def builder_catalog(catalog: Catalog) -> dict[str, Any]:
    """What the builder's drop-downs offer: every field with its kind, and the operators per kind."""
    labels = field_labels(catalog)

    def label_of(name: str) -> str:
        if name in BUILTIN_LABELS or name.startswith("external_id."):
            return labels[name]
        kind = str(catalog.kind_of(name))
        return f"{labels[name]} ({FIELD_TYPES.get(kind, kind)})"

    fields = [{"name": name, "kind": catalog.kind_of(name), "label": label_of(name)}
              for name in catalog.names()]
    # The account's own fields first: they are what campaign managers segment by most.
    fields.sort(key=lambda f: f["name"] in BUILTIN_LABELS or str(f["name"]).startswith("external_id."))
    return {"fields": fields, "operators": OPERATORS,
            "operator_labels": {op: str(label) for op, label in OPERATOR_LABELS.items()},
            "statuses": tuple(ContactStatus), "status_labels": {k: str(v) for k, v in STATUS_WORDS.items()},
            "words": {key: str(words) for key, words in BUILDER_WORDS.items()}}


def _preview_options(values: Any) -> dict[str, Any]:
    """The collapse options of a preview (the opt-in and the representative), from a form or JSON."""
    opted_in = values.get("allow_shared_address") in (True, "yes", "true")
    return {"allow_shared_address": opted_in, "representative": representative_from(values)}


def segment_list() -> ResponseReturnValue:
    return page("segments/list.html", segments=segments_of(db_session(), g.account.id))


def new_segment() -> ResponseReturnValue:
    return _segment_form(None)


def edit_segment(segment_id: int) -> ResponseReturnValue:
    return _segment_form(own_segment(segment_id))


def _refusal_status(problem: DomainError) -> int:
    if isinstance(problem, TooLarge):
        return 413
    return 409 if isinstance(problem, Conflict) and problem.code == "in_use" else 400


def _segment_form(segment: Segment | None) -> ResponseReturnValue:
    """The builder: a new segment, or the segment's name and conditions to change."""
    session = db_session()
    catalog = catalog_of(session, g.account.id)
    name, rules_text = (segment.name, json.dumps(segment.rules)) if segment else ("", EVERYONE)
    error, status = None, 400
    rules: Any = None
    if request.method == "POST":
        name, rules_text = request.form.get("name", "").strip(), request.form.get("rules", EVERYONE)
        try:
            # The form's text is read as safely as a JSON body: a tree 5,000 levels deep is refused
            # before it is parsed (json.loads would recurse through it).
            rules = safe_json.loads(rules_text)
        except safe_json.UnsafeJson as problem:
            error = gettext("The rules cannot be read: %(problem)s.", problem=problem)
        except ValueError:
            error = gettext("The rules are not valid JSON.")
        if error is None and not name:
            error = gettext("Give the segment a name.")
        elif error is None and len(name) > MAX_NAME:
            error = gettext("A name has at most %(count)s characters.", count=MAX_NAME)
        if error is None:
            try:
                if segment is None:
                    saved = create_segment(session, account=g.account, name=name, rules=rules)
                else:
                    saved = change_segment(session, account=g.account, segment_id=segment.id, name=name,
                                           rules=rules)
            except InvalidInput as problem:
                error = readable_error(problem, rules, field_labels(catalog))
            except DomainError as problem:
                error, status = in_words(problem.message), _refusal_status(problem)
            else:
                background.segments_changed()
                return redirect(url_for("web.segment_page", segment_id=saved.id))
    counts = None
    try:
        counts = counts_of(rules_audience(session, g.account, safe_json.loads(rules_text)))
    except (ValueError, InvalidInput, TooLarge):
        pass  # the error above says what is wrong; the preview waits for valid rules
    using = mailings_using(session, segment) if segment else []
    return page("segments/new.html", status if error else 200, name=name, rules_text=rules_text,
                error=error, builder=builder_catalog(catalog), counts=counts, segment=segment, using=using,
                chart=shared_chart_svg(counts.shared if counts else {}), preview_lines=PREVIEW_LINES,
                representatives=REPRESENTATIVES, fields=list(catalog.fields))


def delete_segment(segment_id: int) -> ResponseReturnValue:
    """The confirmation page, and the deletion once it is ticked; refused while a mailing uses it."""
    segment = own_segment(segment_id)
    session = db_session()
    error, status = None, 400
    if request.method == "POST":
        if request.form.get("confirm") != "yes":
            error = gettext("Tick the box to confirm that this segment is to be deleted.")
        else:
            try:
                remove_segment(session, account=g.account, segment_id=segment_id)
            except Conflict:
                error, status = gettext("A mailing uses this segment, so it cannot be deleted."), 409
            else:
                background.segments_changed()
                flash(gettext("Segment “%(name)s” is deleted.", name=segment.name))
                return redirect(url_for("web.segment_list"))
    return page("segments/delete.html", status if error else 200, segment=segment, error=error,
                using=mailings_using(session, segment))


def preview_rules() -> ResponseReturnValue:
    """The builder's live preview of rules not saved yet: JSON in, counts and the chart out.

    A POST (with the form's CSRF token in a header) because the rule tree can be long, and so
    that another site cannot make a signed-in browser run queries.
    """
    body: Any = None  # a body too deep to read is refused by get_json itself
    try:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput(said("expected a JSON object"), part="body")
        audience = rules_audience(db_session(), g.account, body.get("rules"),
                                            **_preview_options(body))
    except InvalidInput as problem:
        labels = field_labels(catalog_of(db_session(), g.account.id))
        message = readable_error(problem, body.get("rules") if isinstance(body, dict) else None, labels)
        return jsonify(error={"where": problem.part, "message": message}), 400
    except TooLarge as problem:  # a tree past the rule limits
        return jsonify(error={"where": None, "code": problem.code, "message": say(problem.message)}), 413
    counts = counts_of(audience)
    return jsonify(preview=counts.to_json(), chart=str(shared_chart_svg(counts.shared)))


def _audience_from_query(segment_id: int) -> tuple[Audience, str | None]:
    """The segment's audience with the page's options; with the defaults when they are wrong."""
    segment = own_segment(segment_id)
    session = db_session()
    try:
        return segment_audience(session, g.account, segment, **_preview_options(request.args)), None
    except (InvalidInput, TooLarge) as problem:
        return segment_audience(session, g.account, segment), say(problem.message)


def segment_page(segment_id: int) -> ResponseReturnValue:
    segment = own_segment(segment_id)
    audience, error = _audience_from_query(segment_id)
    counts = counts_of(audience)
    rule, field = representative_choice(None if error else representative_from(request.args))
    catalog = catalog_of(db_session(), g.account.id)
    labels = field_labels(catalog)
    return page("segments/show.html", 400 if error else 200, segment=segment, counts=counts,
                chart=shared_chart_svg(counts.shared), preview_lines=PREVIEW_LINES, error=error,
                representatives=REPRESENTATIVES, fields=list(catalog.fields), chosen_rule=rule,
                chosen_field=field, opted_in=audience.allow_shared_address, field_labels=labels,
                operator_labels=OPERATOR_LABELS, using=mailings_using(db_session(), segment))


def segment_csv(segment_id: int) -> ResponseReturnValue:
    """The send list as the page shows it (same opt-in and representative), streamed."""
    audience, _ = _audience_from_query(segment_id)
    return page_csv(send_list_rows(current_engine(), audience), f"segment-{segment_id}-recipients.csv")
