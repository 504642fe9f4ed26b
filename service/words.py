"""Flask-Babel's gettext family with types (the library ships none), for the pages' Python code.

The names stay gettext, ngettext and lazy_gettext, so that `pybabel extract -k lazy_gettext` finds
every message (babel.cfg). A lazy text is translated each time it is rendered, in the language of
that request: module-level tables of words use it.
"""

from __future__ import annotations

from typing import Any

import flask_babel


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
