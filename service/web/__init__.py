"""The web pages for campaign managers: sign-in, the home page and the import wizard.

The views live in one module per area; this module routes them, so that none of them needs
to import the blueprint (no import cycles).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from importer.guards import said_once
from service.web import (
    auth,
    contact_actions,
    contacts,
    dedup,
    home,
    import_list,
    imports,
    language,
    mailing_forms,
    mailings,
    pages,
    reports,
    secret,
    segments,
)
from service.web.import_warnings import warning_words

web = Blueprint("web", __name__)

ROUTES: list[tuple[str, Callable[..., ResponseReturnValue], list[str]]] = [
    ("/sign-in", auth.sign_in, ["GET", "POST"]),
    ("/sign-out", auth.sign_out, ["POST"]),
    ("/", home.home, ["GET"]),
    ("/language", language.set_language, ["POST"]),
    ("/imports/new", imports.upload, ["GET", "POST"]),
    ("/imports/drafts/<int:draft_id>/file", imports.file_settings, ["GET", "POST"]),
    ("/imports/drafts/<int:draft_id>/options", imports.options, ["GET", "POST"]),
    ("/imports/drafts/<int:draft_id>/external-id", imports.external_id, ["GET", "POST"]),
    ("/imports/drafts/<int:draft_id>/fields", imports.fields, ["GET", "POST"]),
    ("/imports/drafts/<int:draft_id>/review", imports.review, ["GET", "POST"]),
    ("/imports", import_list.import_list, ["GET"]),
    ("/imports/<int:import_id>", reports.report, ["GET"]),
    ("/imports/<int:import_id>/progress", reports.progress, ["GET"]),
    ("/imports/<int:import_id>/rejected.csv", reports.rejected_csv, ["GET"]),
    ("/dedup", dedup.dedup_page, ["GET"]),
    ("/dedup/apply", dedup.dedup_apply, ["POST"]),
    ("/dedup/undo", dedup.dedup_undo, ["POST"]),
    ("/segments", segments.segment_list, ["GET"]),
    ("/segments/new", segments.new_segment, ["GET", "POST"]),
    ("/segments/preview", segments.preview_rules, ["POST"]),
    ("/segments/<int:segment_id>", segments.segment_page, ["GET"]),
    ("/segments/<int:segment_id>/edit", segments.edit_segment, ["GET", "POST"]),
    ("/segments/<int:segment_id>/delete", segments.delete_segment, ["GET", "POST"]),
    ("/segments/<int:segment_id>/recipients.csv", segments.segment_csv, ["GET"]),
    ("/mailings", mailings.mailing_list, ["GET"]),
    ("/mailings/new", mailing_forms.new_mailing, ["GET", "POST"]),
    ("/mailings/preview", mailing_forms.preview_form, ["POST"]),
    ("/mailings/<int:mailing_id>", mailings.mailing_page, ["GET"]),
    ("/mailings/<int:mailing_id>/edit", mailing_forms.edit_mailing, ["GET", "POST"]),
    ("/mailings/<int:mailing_id>/copy", mailings.copy_mailing, ["POST"]),
    ("/mailings/<int:mailing_id>/delete", mailings.delete_mailing, ["GET", "POST"]),
    ("/mailings/<int:mailing_id>/recipients.csv", mailings.mailing_csv, ["GET"]),
    ("/mailings/<int:mailing_id>/ledger.csv", mailings.ledger_csv, ["GET"]),
    ("/contacts", contacts.contact_list, ["GET"]),
    ("/contacts/export.csv", contacts.contacts_csv, ["GET"]),
    ("/contacts/<int:contact_id>", contacts.contact_page, ["GET"]),
    ("/contacts/<int:contact_id>/edit", contact_actions.edit_contact, ["GET", "POST"]),
    ("/contacts/<int:contact_id>/unsubscribe", contact_actions.unsubscribe_contact, ["POST"]),
    ("/contacts/<int:contact_id>/resubscribe", contact_actions.resubscribe_contact, ["GET", "POST"]),
    ("/contacts/<int:contact_id>/erase", contact_actions.erase_contact, ["GET", "POST"]),
]
for rule, view, methods in ROUTES:
    web.add_url_rule(rule, view_func=view, methods=methods)

web.before_request(auth.require_user)
web.register_error_handler(CSRFError, pages.csrf_refused)


def init_app(app: Flask, *, exempt: list[Blueprint]) -> None:
    """Register the pages and protect every form with a CSRF token, except the `exempt`
    blueprints (the JSON API authenticates by key, not by cookie)."""
    # The token lives as long as the session: a wizard left open for an hour must still work.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf = CSRFProtect(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    secret.init_app(app)
    language.init_app(app)
    # Words that several pages' templates use for stored values.
    app.jinja_env.globals.update(contact_statuses=contacts.STATUS_WORDS,
                                 progress_words=reports.PROGRESS_WORDS, warning_words=warning_words,
                                 said_once=said_once, status_words=reports.status_words)
    app.register_blueprint(web)
