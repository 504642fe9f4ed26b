"""The pages' language: Dutch or English, per request, and what follows from it.

The language is the signed-in user's own setting (users.language), else the browser's
Accept-Language (nl, nl-NL, nl-BE... are Dutch), else English. Texts come from the gettext
catalogue service/translations/nl/LC_MESSAGES/messages.po (English is the msgid itself); dates
and numbers are written by Babel in the language's format; a CSV downloaded from a page is in
that language's spreadsheet dialect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, format_datetime, get_locale

from service.db import session as db_session
from service.downloads import csv_response
from service.web.auth import safe_next
from service.web.field_words import field_label
from service.words import lazy_gettext, say_stored

LANGUAGES = {"en": "English", "nl": "Nederlands"}
DEFAULT_LANGUAGE = "en"
# Date and time as people of the language write them (English keeps the unambiguous ISO order).
MINUTES = {"en": "yyyy-MM-dd HH:mm", "nl": "dd-MM-yyyy HH:mm"}
SECONDS = {"en": "yyyy-MM-dd HH:mm:ss", "nl": "dd-MM-yyyy HH:mm:ss"}
# The CSV a spreadsheet of the language opens as it is: Dutch Excel splits on `;`; both read
# UTF-8 as UTF-8 only after a byte-order mark.
CSV_DIALECTS = {"en": (",", True), "nl": (";", True)}
# The kinds of value a field (or a built-in column) holds, as the pages name them.
FIELD_TYPES = {
    "text": lazy_gettext("text"), "number": lazy_gettext("number"), "date": lazy_gettext("date"),
    "boolean": lazy_gettext("yes/no"), "status": lazy_gettext("status"), "timestamp": lazy_gettext("moment"),
}


def select_language() -> str:
    """The user's own setting, else the browser's best match, else English."""
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    # By each language's own subtag, best first: "en-US, nl;q=0.9" is English (Werkzeug's
    # best_match would take the exact "nl" over the regional "en-US").
    for tag, _ in request.accept_languages:  # sorted by quality
        primary = tag.replace("_", "-").split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANGUAGE


def page_csv(rows: Iterator[Sequence[Any]], filename: str) -> Response:
    """A CSV download from a page, in the spreadsheet dialect of the page's language."""
    delimiter, bom = CSV_DIALECTS[current_language()]
    return csv_response(rows, filename, delimiter=delimiter, bom=bom)


def when(value: datetime, seconds: bool = False) -> str:
    """A moment in UTC as the language writes it."""
    patterns = SECONDS if seconds else MINUTES
    return str(format_datetime(value, patterns[current_language()]))


def job_error(job: Any) -> str | None:
    """Why an import (or its dry run) failed, in the page's language."""
    return say_stored(job.error, job.error_words)


def set_language() -> ResponseReturnValue:
    """Keep the signed-in user's choice of language ("" = the browser's), then go back."""
    choice = request.form.get("language", "")
    g.user.language = choice if choice in LANGUAGES else None
    db_session().add(g.user)
    db_session().commit()
    return redirect(safe_next(request.form.get("next")))


def _vary(response: Response) -> Response:
    """A page (or its download) depends on the browser's language: say so to caches."""
    if not request.path.startswith("/api/"):
        response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    """Gettext, Babel's formats and `when` for the templates, with the language of each request."""
    app.after_request(_vary)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    Babel(app, locale_selector=select_language)
    app.jinja_env.filters["when"] = when
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's line breaks are spaces
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language,
                                 type_words=FIELD_TYPES, field_label=field_label, job_error=job_error)
