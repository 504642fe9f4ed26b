"""Flask-Babel's gettext family with types (the library ships none), for the pages' Python code.

The names stay gettext, ngettext and lazy_gettext, so that `pybabel extract -k lazy_gettext` finds
every message (babel.cfg). A lazy text is translated each time it is rendered, in the language of
that request: module-level tables of words use it.

`say` renders a message of importer/, segments/ or the domain (importer/said.py) in the page's
language: the catalogue's translation of its template, with its parameters said the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flask_babel

from importer.said import AT, Said


def gettext(text: str, **variables: Any) -> str:
    return str(flask_babel.gettext(text, **variables))


def ngettext(singular: str, plural: str, quantity: int, **variables: Any) -> str:
    return str(flask_babel.ngettext(singular, plural, quantity, **variables))


def lazy_gettext(text: str) -> str:
    """Typed as the str it becomes when a page shows it."""
    text_later: str = flask_babel.lazy_gettext(text)
    return text_later


def format_decimal(number: float) -> str:
    return str(flask_babel.format_decimal(number))


# The words a message's parameters can be (importer.said.word) whose page word is not the same
# English: a field type, a dedup rule. Any other word is looked up as it is (statuses, units).
WORDS = {
    "boolean": lazy_gettext("yes/no"), "timestamp": lazy_gettext("moment"),
    "email": lazy_gettext("e-mail address"), "external_id": lazy_gettext("external ID"),
}
# Words that are parameters only, so that the catalogue has them (extracted from here).
PARAMETER_WORDS = (lazy_gettext("days"), lazy_gettext("years"), lazy_gettext("failed sign-ins"),
                   lazy_gettext("uploads"))


def say(message: str) -> str:
    """A message in the page's language: a Said by its template's translation, else as it is.

    A library's sentence (`foreign`) stays as the library says it where the catalogue has no
    translation of its gist: on English pages.
    """
    if not isinstance(message, Said):
        return message
    if message.is_word:
        return str(WORDS.get(message.template) or flask_babel.gettext(message.template))
    if message.is_number:
        count = message.params["n"]
        return format_decimal(count) if isinstance(count, int | float) else str(message)
    translated = str(flask_babel.gettext(message.template))
    if message.english_only and translated == message.template:
        return str(message)
    if not message.params:
        return translated
    return translated % {key: say(value) if isinstance(value, str) else value
                         for key, value in message.params.items()}


def without_part(message: str) -> str:
    """The message without the part of the input it is about, for a page that shows it next to
    that part (importer.said.at); any other message as it is."""
    if isinstance(message, Said) and message.template == AT:
        inner = message.params["message"]
        return inner if isinstance(inner, str) else str(inner)
    return message


def say_stored(text: str | None, words: Mapping[str, Any] | None) -> str | None:
    """A message stored as its English `text` and its Said's JSON `words` (null for data older than
    the words: then the English)."""
    if text is None or not words:
        return text
    return say(Said.from_json(words))
