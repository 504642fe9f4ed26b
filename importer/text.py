"""Characters no text the service stores may hold, whatever its source (JSON bodies, events, rules).

A NUL (PostgreSQL refuses it in text; SQLite stores it and spreadsheets choke on it) and a lone
surrogate: JSON may write one as "\\ud800", but no UTF-8 encodes it, so both databases fail on it
(a 500) and SQLite, given one inside a JSON document, stores text nothing can read back.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """Name the first character of `text` that cannot be stored, or None when there is none."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character (\\u0000)"
    return f"a lone surrogate (\\u{ord(found.group()):04x}), which no UTF-8 text holds"
