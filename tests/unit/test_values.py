"""Unit tests for importer.values: typed cell values."""

import pytest

from importer.values import (
    InvalidValue,
    parse_status,
    parse_value,
    value_parser,
)
from importer.vocabulary import ContactStatus, FieldType


def test_field_types_and_statuses():
    assert tuple(FieldType) == ("text", "number", "date", "boolean")
    assert tuple(ContactStatus) == ("active", "unsubscribed", "bounced")


def test_invalid_value_is_a_value_error():
    assert issubclass(InvalidValue, ValueError)


# --- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Jérôme", "12", "31-12-1999", "ja", "a, b; c"])
def test_text_is_returned_unchanged(text):
    value = parse_value(text, "text")
    assert value == text
    assert type(value) is str


# --- number ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), ("-3", -3), ("+7", 7), ("0", 0), ("007", 7), ("1.234.567", 1234567), ("1,234,567", 1234567)],
)
def test_integral_numbers_are_ints(text, expected):
    value = parse_value(text, "number")
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", 12.5),
        ("12,5", 12.5),  # decimal comma
        ("-0,75", -0.75),
        ("1.234,56", 1234.56),  # thousands ".", decimal ","
        ("1,234.56", 1234.56),  # thousands ",", decimal "."
        ("-1.234.567,5", -1234567.5),
        ("1,234,567.25", 1234567.25),
        ("42.0", 42.0),
        ("1.234", 1.234),  # a single separator is always the decimal one
        ("1,234", 1.234),
        ("1e3", 1000.0),
    ],
)
def test_decimal_numbers_are_floats(text, expected):
    value = parse_value(text, "number")
    assert value == pytest.approx(expected)
    assert type(value) is float


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1,2,3",
        "1.2.3",
        "1,2.3",  # thousands group of one digit
        "1.234,5,6",
        "12,34.5",
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e999",  # overflows to inf
        "1_000",
        "12 500",
        "€ 12",
        "12%",
        "0x1F",
        "--1",
        "",
    ],
)
def test_invalid_numbers_are_rejected(text):
    with pytest.raises(InvalidValue, match="is not a valid number"):
        parse_value(text, "number")


def test_invalid_number_message_names_the_text():
    with pytest.raises(InvalidValue) as error:
        parse_value("1,2,3", "number")
    assert str(error.value) == "'1,2,3' is not a valid number"


# --- date -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1999-12-31", "1999-12-31"),
        ("1999-12-31T10:00:00", "1999-12-31"),
        ("1999-12-31 10:00", "1999-12-31"),
        ("1999-12-31T23:30:00+02:00", "1999-12-31"),
        ("31-12-1999", "1999-12-31"),
        ("31/12/1999", "1999-12-31"),
        ("31.12.1999", "1999-12-31"),
        ("1-2-2000", "2000-02-01"),
        ("01-02-2000", "2000-02-01"),
        ("1/12/2000", "2000-12-01"),
        ("12-1-2000", "2000-01-12"),
        ("29-02-2000", "2000-02-29"),
        ("31-12-1999 10:00", "1999-12-31"),  # spreadsheets export datetimes like this
        ("31-12-1999 10:00:59", "1999-12-31"),
        ("1999/12/31", "1999-12-31"),
        ("2000-1-2", "2000-01-02"),
    ],
)
def test_dates_become_iso(text, expected):
    assert parse_value(text, "date") == expected


@pytest.mark.parametrize(
    "text",
    [
        "31-02-2020",
        "29-02-2001",
        "32-01-2000",
        "01-13-2000",
        "12/31/1999",  # month-first needs a date_format
        "1999-02-30",
        "1999-13-01",
        "1999-12-31T25:00",
        "31-12-99",  # two-digit years are ambiguous
        "31-12/1999",  # mixed separators
        "19991231",
        "gisteren",
        "2020",
        "31 december 1999",
    ],
)
def test_invalid_dates_are_rejected(text):
    with pytest.raises(InvalidValue, match="is not a valid date"):
        parse_value(text, "date")


def test_invalid_date_message():
    with pytest.raises(InvalidValue) as error:
        parse_value("31-02-2020", "date")
    assert str(error.value) == "'31-02-2020' is not a valid date (day-first or ISO 8601 expected)"


def test_date_format_is_the_only_format_accepted():
    assert parse_value("12/31/1999", "date", date_format="%m/%d/%Y") == "1999-12-31"
    assert parse_value("02/01/2000", "date", date_format="%m/%d/%Y") == "2000-02-01"
    with pytest.raises(InvalidValue, match="format %m/%d/%Y"):
        parse_value("1999-12-31", "date", date_format="%m/%d/%Y")
    with pytest.raises(InvalidValue):
        parse_value("31/12/1999", "date", date_format="%m/%d/%Y")


def test_date_format_with_a_time_keeps_the_date():
    assert parse_value("31.12.1999 23:59", "date", date_format="%d.%m.%Y %H:%M") == "1999-12-31"


# --- boolean --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["true", "TRUE", "True", "yes", "Y", "y", "1", "ja", "Ja", "j", "waar", "WAAR"]
)
def test_true_values(text):
    assert parse_value(text, "boolean") is True


@pytest.mark.parametrize("text", ["false", "FALSE", "no", "N", "n", "0", "nee", "Nee", "onwaar"])
def test_false_values(text):
    assert parse_value(text, "boolean") is False


@pytest.mark.parametrize("text", ["maybe", "2", "yes!", "t", "f", "-1", "ok", "on"])
def test_invalid_booleans_are_rejected(text):
    with pytest.raises(InvalidValue, match="is not a valid yes/no value"):
        parse_value(text, "boolean")


# --- dispatch -------------------------------------------------------------------------------------


def test_unknown_field_type_is_a_plain_value_error():
    with pytest.raises(ValueError, match="unknown field type 'money'") as error:
        parse_value("12", "money")
    # Not an InvalidValue: the row is fine, the caller is wrong.
    assert not isinstance(error.value, InvalidValue)


@pytest.mark.parametrize(
    ("field_type", "text", "date_format", "expected"),
    [
        ("text", "hallo", None, "hallo"),
        ("number", "1.234,5", None, 1234.5),
        ("date", "31-12-1999", None, "1999-12-31"),
        ("date", "12/31/1999", "%m/%d/%Y", "1999-12-31"),
        ("boolean", "nee", None, False),
    ],
)
def test_value_parser_matches_parse_value(field_type, text, date_format, expected):
    parse = value_parser(field_type, date_format=date_format)
    assert parse(text) == expected
    assert parse_value(text, field_type, date_format=date_format) == expected


def test_value_parser_with_date_format_rejects_other_spellings():
    parse = value_parser("date", date_format="%m/%d/%Y")
    with pytest.raises(InvalidValue):
        parse("31-12-1999")


def test_value_parser_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown field type"):
        value_parser("money")


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("active", "active"), ("Unsubscribed", "unsubscribed"), ("BOUNCED", "bounced"), (" active ", "active")],
)
def test_statuses(text, expected):
    assert parse_status(text) == expected


@pytest.mark.parametrize("text", ["actief", "deleted", "", "active!"])
def test_invalid_statuses_are_rejected(text):
    with pytest.raises(InvalidValue, match="is not a valid status"):
        parse_status(text)
