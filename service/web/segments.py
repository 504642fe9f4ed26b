"""Segment pages: the list, the builder with its live preview, a segment's page and send list."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from importer.vocabulary import ContactStatus
from segments.collapse import Audience
from segments.rules import OPERATORS, Catalog
from service import safe_json
from service.db import current_engine
from service.db import session as db_session
from service.domain.accounts import fields_of, links_of
from service.domain.segments import (
    catalog_of,
    create_segment,
    rules_audience,
    segment_audience,
    segments_of,
    send_list_rows,
)
from service.errors import DomainError, InvalidInput, TooLarge
from service.web.charts import shared_chart_svg
from service.web.contacts import STATUS_WORDS
from service.web.field_words import label_of_name
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
from service.words import gettext, lazy_gettext

EVERYONE = '{"all": []}'
MAX_NAME = 200

BUILTIN_LABELS = {
    "email": lazy_gettext("E-mail address"),
    "email_domain": lazy_gettext("E-mail domain"),
    "status": lazy_gettext("Status"),
    "created_at": lazy_gettext("Added on"),
    "updated_at": lazy_gettext("Last updated"),
}

# How the builder names each operator; the operators a field offers come from rules.OPERATORS.
OPERATOR_LABELS = {
    "eq": lazy_gettext("is"), "ne": lazy_gettext("is not"), "in": lazy_gettext("is one of"),
    "not_in": lazy_gettext("is none of"), "contains": lazy_gettext("contains"),
    "starts_with": lazy_gettext("starts with"), "ends_with": lazy_gettext("ends with"),
    "gt": lazy_gettext("is above / after"), "gte": lazy_gettext("is at least / on or after"),
    "lt": lazy_gettext("is below / before"), "lte": lazy_gettext("is at most / on or before"),
    "between": lazy_gettext("is between"), "is_empty": lazy_gettext("is empty"),
    "is_not_empty": lazy_gettext("has a value"),
    "within_last_days": lazy_gettext("within the last … days"),
    "more_than_days_ago": lazy_gettext("more than … days ago"),
}
# The builder's own words (service/static/app.js), in the page's language.
BUILDER_WORDS = {
    "all": lazy_gettext("all of these"), "any": lazy_gettext("any of these"),
    "none": lazy_gettext("none of these"), "notall": lazy_gettext("not all of these"),
    "days": lazy_gettext("Days"), "values": lazy_gettext("Values"),
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
}


def builder_catalog(catalog: Catalog) -> dict[str, Any]:
    """What the builder's drop-downs offer: every field with its kind, and the operators per kind."""
    labels = {f"external_id.{link.name}": gettext("%(label)s (ID in “%(name)s”)", label=link.label,
                                                  name=link.name)
              for link in links_of(db_session(), g.account.id)}
    field_labels = {f.name: f.label for f in fields_of(db_session(), g.account.id)}

    def label_of(name: str) -> str:
        kind = str(catalog.kind_of(name))
        return str(BUILTIN_LABELS.get(name) or labels.get(name)
                   or f"{label_of_name(name, field_labels)} ({FIELD_TYPES.get(kind, kind)})")

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
    session = db_session()
    catalog = catalog_of(session, g.account.id)
    name, rules_text, error, status = "", EVERYONE, None, 400
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
                segment = create_segment(session, account=g.account, name=name, rules=rules)
            except DomainError as problem:
                error, status = problem.message, 413 if isinstance(problem, TooLarge) else 400
            else:
                return redirect(url_for("web.segment_page", segment_id=segment.id))
    counts = None
    try:
        counts = counts_of(rules_audience(session, g.account, safe_json.loads(rules_text)))
    except (ValueError, InvalidInput, TooLarge):
        pass  # the error above says what is wrong; the preview waits for valid rules
    return page("segments/new.html", status if error else 200, name=name, rules_text=rules_text,
                error=error, builder=builder_catalog(catalog), counts=counts,
                chart=shared_chart_svg(counts.shared if counts else {}), preview_lines=PREVIEW_LINES,
                representatives=REPRESENTATIVES, fields=list(catalog.fields))


def preview_rules() -> ResponseReturnValue:
    """The builder's live preview of rules not saved yet: JSON in, counts and the chart out.

    A POST (with the form's CSRF token in a header) because the rule tree can be long, and so
    that another site cannot make a signed-in browser run queries.
    """
    try:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object", part="body")
        audience = rules_audience(db_session(), g.account, body.get("rules"),
                                            **_preview_options(body))
    except InvalidInput as problem:
        return jsonify(error={"where": problem.part, "message": problem.message}), 400
    except TooLarge as problem:  # a tree past the rule limits
        return jsonify(error={"where": None, "code": problem.code, "message": problem.message}), 413
    counts = counts_of(audience)
    return jsonify(preview=counts.to_json(), chart=str(shared_chart_svg(counts.shared)))


def _audience_from_query(segment_id: int) -> tuple[Audience, str | None]:
    """The segment's audience with the page's options; with the defaults when they are wrong."""
    segment = own_segment(segment_id)
    session = db_session()
    try:
        return segment_audience(session, g.account, segment, **_preview_options(request.args)), None
    except (InvalidInput, TooLarge) as problem:
        return segment_audience(session, g.account, segment), problem.message


def segment_page(segment_id: int) -> ResponseReturnValue:
    segment = own_segment(segment_id)
    audience, error = _audience_from_query(segment_id)
    counts = counts_of(audience)
    rule, field = representative_choice(None if error else representative_from(request.args))
    catalog = catalog_of(db_session(), g.account.id)
    labels = {f["name"]: f["label"] for f in builder_catalog(catalog)["fields"]}
    return page("segments/show.html", 400 if error else 200, segment=segment, counts=counts,
                chart=shared_chart_svg(counts.shared), preview_lines=PREVIEW_LINES, error=error,
                representatives=REPRESENTATIVES, fields=list(catalog.fields), chosen_rule=rule,
                chosen_field=field, opted_in=audience.allow_shared_address, field_labels=labels,
                operator_labels=OPERATOR_LABELS)


def segment_csv(segment_id: int) -> ResponseReturnValue:
    """The send list as the page shows it (same opt-in and representative), streamed."""
    audience, _ = _audience_from_query(segment_id)
    return page_csv(send_list_rows(current_engine(), audience), f"segment-{segment_id}-recipients.csv")
