"""Parse cell text into typed field values.

The importer calls `parse_value` for every mapped cell, millions of times per import, so each field
type has its own small function picked from a dict, every pattern is compiled once at import time,
and the common spelling of each type (a plain integer, an ISO 8601 date) is tried first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Protocol

from importer.said import said
from importer.vocabulary import ContactStatus, FieldType

Value = str | int | float | bool
Parser = Callable[[str], Value]


class _TypeParser(Protocol):
    def __call__(self, text: str, date_format: str | None = None, /) -> Value: ...


class InvalidValue(ValueError):
    """A cell's text is not a valid value of its field's type; the message is meant for the user."""


# --- number ---------------------------------------------------------------------------------------

# Digit groups are checked exactly, so that "1,2,3" is rejected rather than read as 123.
# [0-9] rather than \d: \d also matches other scripts' digits.
_INT_DOT_GROUPS = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3}){2,}")  # 1.234.567 (one dot is a decimal point)
_INT_COMMA_GROUPS = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3}){2,}")  # 1,234,567 (one comma is decimal)
_DOT_GROUPS_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+")  # 1.234,56
_COMMA_GROUPS_DECIMAL_DOT = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+")  # 1,234.56


def _invalid_number(text: str) -> InvalidValue:
    return InvalidValue(said("'%(text)s' is not a valid number", text=text))


def _parse_number(text: str, date_format: str | None = None) -> int | float:
    """Parse an integer or a decimal number, with a decimal point or a decimal comma."""
    digits = text[1:] if text[:1] in "+-" else text
    if digits.isdigit() and digits.isascii():  # the common case, without raising and catching
        return int(text)
    if "_" in text:  # int() and float() accept "1_000"; no spreadsheet writes that
        raise _invalid_number(text)
    commas = text.count(",")
    dots = text.count(".")
    if not commas and dots <= 1:
        candidate = text
    elif commas == 1 and not dots:
        candidate = text.replace(",", ".")  # a single comma is a decimal comma ("12,5"), as in Dutch
    elif _INT_DOT_GROUPS.fullmatch(text):
        return int(text.replace(".", ""))
    elif _INT_COMMA_GROUPS.fullmatch(text):
        return int(text.replace(",", ""))
    elif _DOT_GROUPS_DECIMAL_COMMA.fullmatch(text):
        candidate = text.replace(".", "").replace(",", ".")
    elif _COMMA_GROUPS_DECIMAL_DOT.fullmatch(text):
        candidate = text.replace(",", "")
    else:
        raise _invalid_number(text)
    try:
        number = float(candidate)
    except ValueError:
        raise _invalid_number(text) from None
    if not math.isfinite(number):  # float() accepts "nan", "inf" and overflows to inf
        raise _invalid_number(text)
    return number


# --- date -----------------------------------------------------------------------------------------

# An optional time of day after the date is accepted and dropped: spreadsheets export datetimes.
_TIME = r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?"
_DAY_FIRST = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})" + _TIME)  # 31-12-1999, 1/2/2000
_YEAR_FIRST = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})" + _TIME)  # 1999/12/31, 2000-1-2


def _invalid_date(text: str) -> InvalidValue:
    return InvalidValue(said("'%(text)s' is not a valid date (day-first or ISO 8601 expected)", text=text))


def _parse_date(text: str, date_format: str | None = None) -> str:
    """Parse a date as ISO 8601 or day-first, or with `date_format` only; return it as YYYY-MM-DD."""
    if date_format is not None:
        try:
            return datetime.strptime(text, date_format).date().isoformat()
        except ValueError:
            raise InvalidValue(said("'%(text)s' is not a valid date (format %(date_format)s expected)",
                                    text=text, date_format=date_format)) from None
    if len(text) == 10 and text.isascii():
        # The common spellings, "1999-12-31" and "31-12-1999", rewritten to ISO by slicing and
        # validated by one fromisoformat call: much faster than a regex and three int() calls.
        separator = text[2]
        if text[4] == "-" and text[7] == "-":
            iso = text
        elif separator in "-/." and text[5] == separator:
            iso = f"{text[6:]}-{text[3:5]}-{text[:2]}"
        else:
            iso = ""
        if iso:
            try:
                date.fromisoformat(iso)
            except ValueError:
                raise _invalid_date(text) from None
            return iso
    elif len(text) > 10 and text[4] == "-" and text[10] in "T ":
        try:
            return datetime.fromisoformat(text).date().isoformat()
        except ValueError:
            raise _invalid_date(text) from None
    match = _DAY_FIRST.fullmatch(text)
    if match is not None:
        day, _, month, year = match.groups()
    else:
        match = _YEAR_FIRST.fullmatch(text)
        if match is None:
            raise _invalid_date(text)
        year, _, month, day = match.groups()
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:  # 31-02-2020, month 13, ...
        raise _invalid_date(text) from None


# --- boolean and text -----------------------------------------------------------------------------

_BOOLEANS = {
    **dict.fromkeys(("true", "yes", "y", "1", "ja", "j", "waar"), True),
    **dict.fromkeys(("false", "no", "n", "0", "nee", "onwaar"), False),
}


def _parse_boolean(text: str, date_format: str | None = None) -> bool:
    """Parse yes/no in English or Dutch, or 1/0."""
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise InvalidValue(
            said("'%(text)s' is not a valid yes/no value (true/false, yes/no, ja/nee or 1/0 expected)",
                 text=text)
        )
    return value


def _parse_text(text: str, date_format: str | None = None) -> str:
    return text


_PARSERS: dict[str, _TypeParser] = {
    "text": _parse_text,
    "number": _parse_number,
    "date": _parse_date,
    "boolean": _parse_boolean,
}
assert tuple(_PARSERS) == tuple(FieldType)


def _unknown_type(field_type: str) -> ValueError:
    return ValueError(f"unknown field type {field_type!r}; expected one of {', '.join(FieldType)}")


# --- public ---------------------------------------------------------------------------------------


def parse_value(text: str, field_type: str, *, date_format: str | None = None) -> Value:
    """Parse trimmed, non-empty cell text as a value of `field_type`.

    Raise InvalidValue when the text is not such a value, and a plain ValueError when `field_type`
    is not a FieldType (a programming error, not a problem with the file).
    """
    try:
        parse = _PARSERS[field_type]
    except KeyError:
        raise _unknown_type(field_type) from None
    return parse(text, date_format)


def value_parser(field_type: str, *, date_format: str | None = None) -> Parser:
    """Return a one-argument parser equivalent to `parse_value` for this type, to look up once per column."""
    try:
        parse = _PARSERS[field_type]
    except KeyError:
        raise _unknown_type(field_type) from None
    if field_type == "date" and date_format is not None:
        return partial(_parse_date, date_format=date_format)
    return parse


def parse_status(text: str) -> str:
    """Parse a contact status, ignoring case and surrounding white space."""
    status = text.strip().lower()
    if status not in tuple(ContactStatus):
        raise InvalidValue(said("'%(text)s' is not a valid status (%(statuses)s expected)",
                                text=text, statuses=', '.join(ContactStatus)))
    return status
