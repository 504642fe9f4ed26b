"""Unit tests for importer.rows: the row checker, record by record, without a database."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import pytest
from email_validator import EmailNotValidError, validate_email

import importer.rows
from importer.addresses import erased_address_hash
from importer.rows import Rejection, RowChecker, RowStats, make_row_checker, staged_fields
from importer.settings import AccountInfo, ImportSettings, LinkInfo, MatchRule

FIELDS = {"first_name": "text", "amount": "number", "member": "boolean", "birthday": "date"}
COLUMNS = ["email", "first_name", "amount", "member", "birthday", "status"]
ACCOUNT = AccountInfo(1, "email", FIELDS, {"crm": LinkInfo(7, "crm", "[0-9]{4}"),
                                           "shop": LinkInfo(8, "shop", None)})
BY_CRM = MatchRule("external_id", "crm", "KlantNr")


def checker(columns: list[str] = COLUMNS, stats: RowStats | None = None, **settings) -> RowChecker:  # type: ignore[no-untyped-def]
    """A checker for a file with these columns, each mapped to the field of its name."""
    mapping = {c: c for c in columns if c != "KlantNr"}
    return make_row_checker(ImportSettings(mapping=mapping, **settings), ACCOUNT, columns,
                            stats if stats is not None else RowStats())


def library_message(address: str) -> str:
    with pytest.raises(EmailNotValidError) as error:
        validate_email(address, check_deliverability=False)
    return str(error.value)


# --- staged rows ----------------------------------------------------------------------------------


def test_staging_order_of_the_fields():
    # The mapped fields other than email and status, in the file's order; created fields too.
    settings = ImportSettings(mapping={**{c: c for c in COLUMNS}, "stad": "city"},
                              create_fields={"city": "text"})
    assert [(f.name, f.type, f.column) for f in staged_fields(settings, ACCOUNT)] == [
        ("first_name", "text", "f0"), ("amount", "number", "f1"), ("member", "boolean", "f2"),
        ("birthday", "date", "f3"), ("city", "text", "f4")]


def test_a_valid_row_is_trimmed_normalised_and_typed():
    cells = [" Sanne@Example.NL ", " Sanne ", " 12,5 ", " ja ", " 31-12-1999 ", " Unsubscribed "]
    staged = checker()(2, cells)
    # (row, match value, email, address key, status, first_name, amount, member, birthday)
    assert staged == (2, "sanne@example.nl", "Sanne@example.nl", "sanne@example.nl", "unsubscribed",
                      "Sanne", 12.5, True, "1999-12-31")
    assert type(staged) is tuple  # what the batch checker tells staged rows from rejections by


@pytest.mark.parametrize("empty_clears", [False, True])
def test_empty_cells_are_staged_as_none_whatever_empty_clears_says(empty_clears):
    # The plan decides what an empty cell does (keep or clear); the checker stages it as None.
    staged = checker(empty_clears=empty_clears)(3, ["an@example.nl", "", "   ", "", "\t", ""])
    assert staged == (3, "an@example.nl", "an@example.nl", "an@example.nl", None, None, None, None, None)


def test_by_id_an_empty_address_is_staged_without_address():
    # A new contact without an address is the plan's rejection (missing_email), not the checker's.
    check = checker(["KlantNr", *COLUMNS], match=BY_CRM)
    assert check(4, [" 1001 ", "", "Anna", "", "", "", ""]) == (4, "1001", None, None, None, "Anna", None,
                                                                 None, None)
    assert check(5, ["1002", "B@Example.nl", "", "", "", "", ""]) == (
        5, "1002", "B@example.nl", "b@example.nl", None, None, None, None, None)


def test_short_rows_are_padded_with_empty_cells():
    check = checker()
    assert check(6, ["short@example.nl", "Short"]) == (
        6, "short@example.nl", "short@example.nl", "short@example.nl", None, "Short", None, None, None)
    # A rejected short row keeps its padded cells, one per column.
    assert check(7, ["bad"]) == Rejection(7, "invalid_email", library_message("bad"),
                                          ["bad", "", "", "", "", ""])


def test_long_rows_with_empty_surplus_cells_are_cut_to_the_header():
    check = checker()
    assert check(8, ["x@example.nl", "X", "1", "", "", "", "", "  "]) == (
        8, "x@example.nl", "x@example.nl", "x@example.nl", None, "X", 1, None, None)
    rejected = check(9, ["bad", "X", "", "", "", "", ""])
    assert rejected == Rejection(9, "invalid_email", library_message("bad"), ["bad", "X", "", "", "", ""])


def test_long_rows_with_surplus_values_are_malformed():
    cells = ["x@example.nl", "X", "1", "ja", "", "", "surplus"]
    assert checker()(10, cells) == Rejection(10, "malformed_row", "7 cells where the header has 6", cells)
    # Malformed comes first: the row's cells cannot be trusted to be in their columns.
    assert checker()(11, ["", "", "", "", "", "", "x"]).reason == "malformed_row"


# --- the key --------------------------------------------------------------------------------------


def test_missing_key_names_the_key_column():
    cells = ["  ", "Name", "", "", "", ""]
    assert checker()(12, cells) == Rejection(12, "missing_key", "no value in column 'email'", cells)
    renamed = ["E-mail", "first_name"]
    check = make_row_checker(ImportSettings(mapping={"E-mail": "email", "first_name": "first_name"}),
                             ACCOUNT, renamed, RowStats())
    assert check(13, ["", "X"]) == Rejection(13, "missing_key", "no value in column 'E-mail'", ["", "X"])
    by_id = checker(["KlantNr", "email"], match=BY_CRM)
    assert by_id(14, [" ", "a@example.nl"]) == Rejection(14, "missing_key", "no value in column 'KlantNr'",
                                                         [" ", "a@example.nl"])


def test_without_an_email_column_every_row_by_address_misses_its_key():
    check = make_row_checker(ImportSettings(mapping={"first_name": "first_name"}), ACCOUNT,
                             ["first_name"], RowStats())
    assert check(15, ["Ann"]) == Rejection(15, "missing_key", "no value in the e-mail column", ["Ann"])


@pytest.mark.parametrize("address", ["jan@@example.nl", "bad", '=HYPERLINK("http://x")', "a@b",
                                     "@example.nl"])
def test_invalid_addresses_give_the_librarys_message(address):
    cells = [f" {address} ", "", "", "", "", ""]
    assert checker()(16, cells) == Rejection(16, "invalid_email", library_message(address), cells)


@pytest.mark.parametrize(("key", "accepted"), [
    ("1001", True), (" 1003 ", True), ("AB12", False), ("10041", False), ("100", False), ("１２３４", False),
])
def test_ids_must_match_the_links_whole_pattern(key, accepted):
    check = checker(["KlantNr", "email"], match=BY_CRM)
    checked = check(17, [key, "a@example.nl"])
    if accepted:
        assert checked == (17, key.strip(), "a@example.nl", "a@example.nl", None)
    else:
        assert checked == Rejection(17, "invalid_external_id",
                                    f"'{key}' does not match the link's ID pattern", [key, "a@example.nl"])


def test_a_catastrophic_pattern_checks_an_id_in_linear_time():
    # With Python's re, `^(a+)+$` takes 7.5 s for this one ID, and doubles with each more "a".
    account = AccountInfo(1, "email", {}, {"crm": LinkInfo(7, "crm", "^(a+)+$")})
    check = make_row_checker(ImportSettings(mapping={"email": "email"}, match=BY_CRM), account,
                             ["KlantNr", "email"], RowStats())
    started = time.perf_counter()
    for length in (27, 1_000, 100_000):
        key = "a" * length + "!"
        assert check(2, [key, ""]) == Rejection(2, "invalid_external_id",
                                                f"'{key}' does not match the link's ID pattern", [key, ""])
        assert check(3, ["a" * length, ""]) == (3, "a" * length, None, None, None)
    assert time.perf_counter() - started < 1


def test_a_row_with_a_nul_byte_is_malformed_and_kept_without_it():
    cells = ["a@example.nl", "Jan\x00", "12", "ja", "1999-12-31", "\x00"]
    assert checker()(70_000, cells) == Rejection(
        70_000, "malformed_row", "a NUL character (a binary byte) in cells 2, 6; text cannot hold one",
        ["a@example.nl", "Jan\ufffd", "12", "ja", "1999-12-31", "\ufffd"])


def test_a_link_without_pattern_takes_any_id():
    check = checker(["KlantNr", "email"], match=MatchRule("external_id", "shop", "KlantNr"))
    assert check(18, ["AB-12/x", ""]) == (18, "AB-12/x", None, None, None)


def test_the_address_is_checked_before_the_id_and_the_values():
    check = checker(["KlantNr", *COLUMNS], match=BY_CRM)
    assert check(19, ["AB12", "bad", "", "twaalf", "", "", ""]).reason == "invalid_email"
    assert check(20, ["AB12", "a@example.nl", "", "twaalf", "", "", ""]).reason == "invalid_external_id"
    assert check(21, ["", "bad", "", "", "", "", ""]).reason == "missing_key"


# --- values and statuses --------------------------------------------------------------------------


def test_every_invalid_value_of_a_row_is_named_status_first():
    cells = ["a@example.nl", "A", "twaalf", "misschien", "31-02-2020", "deleted"]
    assert checker()(22, cells) == Rejection(22, "invalid_value", "; ".join([
        "column 'status': 'deleted' is not a valid status (active, unsubscribed, bounced expected)",
        "column 'amount': 'twaalf' is not a valid number",
        "column 'member': 'misschien' is not a valid yes/no value "
        "(true/false, yes/no, ja/nee or 1/0 expected)",
        "column 'birthday': '31-02-2020' is not a valid date (day-first or ISO 8601 expected)",
    ]), cells)


@pytest.mark.parametrize(("cell", "status"), [
    ("active", "active"), (" Unsubscribed ", "unsubscribed"), ("BOUNCED", "bounced"), ("", None),
])
def test_statuses(cell, status):
    assert checker()(23, ["a@example.nl", "", "", "", "", cell])[4] == status


@pytest.mark.parametrize(("cell", "stored"), [
    ("3", 3), ("3,0", 3), ("2,5", 2.5), ("1.234.567", 1234567), ("-0,75", -0.75),
    ("0,1234567890123456789", 0.123456789012346),  # 15 significant digits, as spreadsheets keep
    ("9223372036854775807", 9223372036854775807), ("-9223372036854775807", -9223372036854775807),
])
def test_numbers_are_stored_alike_on_both_databases(cell, stored):
    value = checker()(24, ["a@example.nl", "", cell, "", "", ""])[6]
    assert value == stored
    assert type(value) is type(stored)


@pytest.mark.parametrize("cell", ["9223372036854775808", "-9223372036854775808", "1e300"])
def test_numbers_too_large_to_store_are_refused(cell):
    rejected = checker()(25, ["a@example.nl", "", cell, "", "", ""])
    assert rejected.reason == "invalid_value"
    assert rejected.detail == f"column 'amount': '{cell}' is too large a number to store"


def test_a_cell_that_fails_fails_again():
    # Parsed values are remembered per column; failures are not, so each row gets its rejection.
    check = checker()
    for row in (26, 27):
        assert check(row, ["a@example.nl", "", "x1", "", "", ""]).detail == \
            "column 'amount': 'x1' is not a valid number"
    assert check(28, ["a@example.nl", "", "7", "", "", ""])[6] == 7
    assert check(29, ["b@example.nl", "", "7", "", "", ""])[6] == 7


@pytest.mark.parametrize(("cell", "stored"), [
    ("31-12-1999", "1999-12-31"), ("31/12/1999", "1999-12-31"), ("1.2.2000", "2000-02-01"),
    ("1999-12-31", "1999-12-31"), ("31-12-1999 23:59", "1999-12-31"),
])
def test_dates_are_day_first_or_iso(cell, stored):
    assert checker()(30, ["a@example.nl", "", "", "", cell, ""])[8] == stored


def test_a_month_first_date_is_refused_without_date_format():
    rejected = checker()(31, ["a@example.nl", "", "", "", "12/31/1999", ""])
    assert rejected.detail == ("column 'birthday': '12/31/1999' is not a valid date "
                               "(day-first or ISO 8601 expected)")


def test_date_format_is_the_only_spelling_taken():
    check = checker(date_format="%m/%d/%Y")
    assert check(32, ["a@example.nl", "", "", "", "12/31/1999", ""])[8] == "1999-12-31"
    rejected = check(33, ["a@example.nl", "", "", "", "31-12-1999", ""])
    assert rejected.detail == "column 'birthday': '31-12-1999' is not a valid date (format %m/%d/%Y expected)"


# --- typo domains ---------------------------------------------------------------------------------


def test_typo_domains_are_counted_for_the_rows_that_are_imported():
    stats = RowStats()
    check = checker(stats=stats)
    rows = [["an@gamil.com", "", "", "", "", ""],
            ["BO@Gamil.COM", "", "1", "", "", ""],
            ["cor@hotmial.com", "", "", "", "", ""],
            ["dirk@gmail.com", "", "", "", "", ""],
            ["eva@hotmail.nl", "", "", "", "", ""],
            ["fien@gamil.com", "", "not a number", "", "", ""]]  # rejected: not counted
    checked = [check(row, cells) for row, cells in enumerate(rows, start=2)]
    assert [type(c) is tuple for c in checked] == [True] * 5 + [False]
    assert stats.typo_domains == Counter({"gamil.com -> gmail.com": 2, "hotmial.com -> hotmail.com": 1})


# --- erased addresses -----------------------------------------------------------------------------


def test_an_erased_address_is_rejected_and_without_erasures_nothing_is_hashed(monkeypatch):
    salt = "s" * 64
    erased = replace(ACCOUNT, erased=frozenset({erased_address_hash(salt, 1, "sanne@example.nl")}),
                     erasure_salt=salt)

    def check(account: AccountInfo, cells: list[str]) -> tuple | Rejection:
        return make_row_checker(ImportSettings(mapping={c: c for c in COLUMNS}), account, COLUMNS,
                                RowStats())(4, cells)

    cells = [" Sanne@Example.NL ", "Sanne", "", "", "", ""]
    rejection = check(erased, cells)
    assert isinstance(rejection, Rejection) and rejection.reason == "erased_address"
    assert rejection.cells == cells and "forgotten" in rejection.detail
    assert type(check(erased, ["ann@x.nl", *cells[1:]])) is tuple
    # Another account's hashes differ: the address is not erased there.
    assert type(check(replace(erased, id=2), cells)) is tuple

    def no_hashing(*args: object) -> str:
        raise AssertionError("an account without erasures hashes nothing")

    monkeypatch.setattr(importer.rows, "erased_address_hash", no_hashing)
    assert type(check(ACCOUNT, cells)) is tuple
