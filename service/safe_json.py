"""Reading JSON from strangers: every request body and the import settings go through `loads`.

Python's json module recurses once per nesting level (a body nested 100,000 deep raises
RecursionError) and turns a 5,000-digit number into an int it cannot convert back (ValueError).
`loads` measures the nesting before parsing, without recursion, and refuses numbers no field
could hold, text that is not UTF-8, characters no text can be stored with and keys given twice,
so that such input is a clear refusal, never a 500 or a guess.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from importer.text import unstorable_character
from service.errors import InvalidInput

MAX_DEPTH = 100  # objects and arrays; a rule tree at the rules' own limit (20) needs about 42
MAX_DIGITS = 40  # an integer longer than this is no id, count or value any field holds
MAX_NUMBER_TEXT = 100  # a float written longer than this is not a measurement

# A JSON string, so that brackets inside strings are not counted (possessive: no backtracking).
STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
BRACKET = re.compile(r"[\[\]{}]")
# Every digit a 9, every other byte a space: a run of more digits than an integer may have shows as
# a substring (a table lookup per byte; a regular expression took ten times as long).
DIGITS_ONLY = bytes(57 if byte in b"0123456789" else 32 for byte in range(256))
TOO_MANY_DIGITS = b"9" * (MAX_DIGITS + 1)


class UnsafeJson(ValueError):
    """JSON that is well-formed, or may be, but that the service will not read; the message says why."""


def nesting_depth(text: str) -> int:
    """How deep the text's objects and arrays nest (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in BRACKET.findall(STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise UnsafeJson(f"a number has more than {MAX_DIGITS} digits")
    return int(digits)


def _float(number: str) -> float:
    value = float(number)
    if len(number) > MAX_NUMBER_TEXT or not math.isfinite(value):
        raise UnsafeJson(f"the number {number[:20]}... is too large" if len(number) > 20
                         else f"the number {number} is too large")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A key given twice is read as the last one here and as the first by other parsers (a proxy,
    # a log reader): refuse it rather than guess which one the sender meant.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise UnsafeJson(f"the key {key[:50]!r} is given twice in one object")
        document[key] = value
    return document


def _constant(name: str) -> float:
    raise UnsafeJson(f"{name} is not a JSON number")


def unstorable_string(value: Any) -> str | None:
    """Name the first unstorable character (a NUL, a lone surrogate) in any string, key or value of
    a parsed document; None when there is none (no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = unstorable_character(item)
            if found:
                return found
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _plainly_storable(text: str) -> bool:
    """Whether no parsed string can hold an unstorable character, told from the text alone: json
    refuses a raw NUL, so one comes only from a `\\u` escape, and a lone surrogate from an escape
    or the text itself (a 1,000-contact check: walking the parsed document took most of reading it)."""
    return "\\u" not in text and unstorable_character(text) is None


def _long_digit_run(text: str) -> bool:
    """Whether the text has a run of more than MAX_DIGITS digits (in a number or a string)."""
    return TOO_MANY_DIGITS in text.encode("utf-8", "surrogatepass").translate(DIGITS_ONLY)


def loads(data: str | bytes, *, allow_unstorable: bool = False) -> Any:
    """Parse JSON text: UnsafeJson when it nests too deep, holds numbers beyond any field or a
    character no text can be stored with (importer/text.py), json.JSONDecodeError (a
    ValueError too) when it is not JSON. With `allow_unstorable`, the caller checks each part for
    such characters itself (a batch whose items are answered one by one)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise UnsafeJson(f"it is not UTF-8 text (byte {error.start + 1} is not)") from None
    # Fewer opening brackets than the limit cannot nest past it (a check's body has two), and a
    # text without a run of more digits than any integer may have needs no look at each integer
    # (a 1,000-contact check: both took a tenth of reading the body).
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH:
        raise UnsafeJson(f"it nests more than {MAX_DEPTH} levels deep")
    integer = _integer if _long_digit_run(text) else int
    value = json.loads(text, parse_int=integer, parse_float=_float, parse_constant=_constant,
                       object_pairs_hook=_object)
    found = None if allow_unstorable or _plainly_storable(text) else unstorable_string(value)
    if found:
        raise UnsafeJson(f"a string holds {found}")
    return value


class RequestJSON(DefaultJSONProvider):
    """Flask's JSON with `loads` above: every `request.get_json()` refuses unsafe bodies with a 400
    (InvalidInput is no ValueError, so even `get_json(silent=True)` says why)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return loads(s)
        except UnsafeJson as error:
            raise InvalidInput(f"the request body cannot be read: {error}", code="invalid_json",
                               part="body") from None


def init_app(app: Flask) -> None:
    app.json = RequestJSON(app)
