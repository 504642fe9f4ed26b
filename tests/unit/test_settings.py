"""Unit tests for importer.settings: parsing the settings object and checking it against the account."""

from __future__ import annotations

import pytest

from importer.settings import (
    AccountInfo,
    ImportSettings,
    LinkInfo,
    MatchRule,
    SettingsError,
    check_against,
    parse_settings,
)

DELIMITER_MESSAGE = 'delimiter must be one character (",", ";", "\\t" or "|")'


def refused(raw: object) -> str:
    with pytest.raises(SettingsError) as error:
        parse_settings(raw)
    return str(error.value)


# --- parse_settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}])
def test_no_settings_are_the_defaults(raw):
    settings = parse_settings(raw)
    assert settings == ImportSettings()
    assert settings == ImportSettings(match=MatchRule("email"), mapping={}, create_fields={}, mode="upsert",
                                      empty_clears=False, dry_run=False, delimiter=None, encoding=None,
                                      has_header=None, date_format=None)
    assert not settings.by_external_id


def test_every_setting_is_read():
    settings = parse_settings({
        "match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
        "mapping": {"E-mail": "email", "Stad": "city"}, "create_fields": {"city": "text"},
        "mode": "update_only", "empty_clears": True, "dry_run": True, "delimiter": ";",
        "encoding": "cp1252", "has_header": False, "date_format": "%d.%m.%Y",
    })
    assert settings == ImportSettings(
        match=MatchRule("external_id", "crm", "KlantNr"), mapping={"E-mail": "email", "Stad": "city"},
        create_fields={"city": "text"}, mode="update_only", empty_clears=True, dry_run=True, delimiter=";",
        encoding="cp1252", has_header=False, date_format="%d.%m.%Y")
    assert settings.by_external_id


@pytest.mark.parametrize("raw", [[1, 2], "email", 3, True])
def test_settings_must_be_an_object(raw):
    assert refused(raw) == "settings must be a JSON object"


def test_unknown_settings_are_named_in_order():
    assert refused({"mapping": {}, "zzz": 1, "dedup": "email"}) == "unknown setting(s): dedup, zzz"


@pytest.mark.parametrize("mode", ["upsert", "create_only", "update_only"])
def test_modes(mode):
    assert parse_settings({"mode": mode}).mode == mode


@pytest.mark.parametrize("mode", ["sometimes", "UPSERT", None, 1])
def test_unknown_modes(mode):
    assert refused({"mode": mode}) == "mode must be one of upsert, create_only, update_only"


@pytest.mark.parametrize("name", ["empty_clears", "dry_run", "has_header"])
@pytest.mark.parametrize("value", ["yes", 1, 0, "true"])
def test_flags_must_be_true_or_false(name, value):
    assert refused({name: value}) == f"{name} must be true or false"


@pytest.mark.parametrize("name", ["empty_clears", "dry_run"])
def test_a_null_flag_is_not_false(name):
    assert refused({name: None}) == f"{name} must be true or false"


def test_has_header_may_be_left_to_detection():
    assert parse_settings({"has_header": None}).has_header is None
    assert parse_settings({"has_header": True}).has_header is True


# --- match ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "rule"), [
    ({"by": "email"}, MatchRule("email")),
    ({}, MatchRule("email")),
    ({"by": "external_id", "link": "crm", "column": "KlantNr"}, MatchRule("external_id", "crm", "KlantNr")),
])
def test_match_rules(raw, rule):
    assert parse_settings({"match": raw}).match == rule


@pytest.mark.parametrize("raw", ["email", ["email"], None])
def test_match_must_be_an_object(raw):
    assert refused({"match": raw}) == 'match must be an object such as {"by": "email"}'


@pytest.mark.parametrize(("raw", "extra"), [
    ({"by": "email", "link": "crm", "column": "KlantNr"}, "column, link"),
    ({"column": "KlantNr"}, "column"),
    ({"by": "external_id", "link": "crm", "column": "KlantNr", "colour": "red"}, "colour"),
])
def test_match_takes_only_the_keys_of_its_rule(raw, extra):
    assert refused({"match": raw}) == f"match by {raw.get('by', 'email')} does not take: {extra}"


@pytest.mark.parametrize("by", ["phone", "Email", None])
def test_match_by_must_be_email_or_external_id(by):
    assert refused({"match": {"by": by}}) == "match.by must be one of email, external_id"


@pytest.mark.parametrize("link", [None, "", 3])
def test_match_by_external_id_needs_a_link(link):
    raw = {"by": "external_id", "column": "KlantNr"} | ({} if link is None else {"link": link})
    assert refused({"match": raw}) == "match by external_id needs 'link': the name of the linked system"


@pytest.mark.parametrize("column", [None, "", ["KlantNr"]])
def test_match_by_external_id_needs_a_column(column):
    raw = {"by": "external_id", "link": "crm"} | ({} if column is None else {"column": column})
    assert refused({"match": raw}) == (
        "match by external_id needs 'column': the column that holds the link's ID")


# --- mapping and create_fields --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mapping", "create_fields"])
@pytest.mark.parametrize("value", [["email"], "email", {"email": 3}, {"email": None}, None])
def test_maps_must_be_objects_of_strings(name, value):
    assert refused({name: value}) == f"{name} must be an object of strings"


def test_maps_are_copied():
    mapping = {"email": "email"}
    settings = parse_settings({"mapping": mapping})
    mapping["extra"] = "x"
    assert settings.mapping == {"email": "email"}


# --- delimiter, encoding, date_format -------------------------------------------------------------


@pytest.mark.parametrize(("given", "delimiter"), [
    (None, None), (";", ";"), (",", ","), ("|", "|"), ("\t", "\t"), ("\\t", "\t"), ("tab", "\t"),
])
def test_delimiters(given, delimiter):
    assert parse_settings({"delimiter": given}).delimiter == delimiter


@pytest.mark.parametrize("given", [";;", "", "TAB", 9, [";"]])
def test_a_delimiter_is_one_character(given):
    assert refused({"delimiter": given}) == DELIMITER_MESSAGE


@pytest.mark.parametrize("name", ["encoding", "date_format"])
def test_optional_text_settings(name):
    assert getattr(parse_settings({name: None}), name) is None
    assert getattr(parse_settings({name: "x"}), name) == "x"
    for bad in ("", 5, ["utf-8"]):
        assert refused({name: bad}) == f"{name} must be a non-empty string"


# --- check_against --------------------------------------------------------------------------------

ACCOUNT = AccountInfo(1, "email", {"first_name": "text", "city": "text"},
                      {"crm": LinkInfo(7, "crm"), "webshop": LinkInfo(8, "webshop")})
COLUMNS = ["email", "first_name", "KlantNr"]


def check_refused(raw: dict, account: AccountInfo = ACCOUNT, columns: list[str] = COLUMNS) -> str:
    with pytest.raises(SettingsError) as error:
        check_against(parse_settings(raw), account, columns)
    return str(error.value)


@pytest.mark.parametrize("raw", [
    {"mapping": {"email": "email", "first_name": "first_name"}},
    {"mapping": {"email": "email", "first_name": "nickname"}, "create_fields": {"nickname": "text"}},
    {"mapping": {"email": "email", "KlantNr": "status"}},
    # By ID, no column need be mapped to the address; the ID column need not be mapped at all.
    {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"}, "mapping": {}},
    {"mapping": {"email": "email"}, "create_fields": {"a" * 63: "number", "Zip_2": "date"}},
])
def test_good_settings_pass(raw):
    assert check_against(parse_settings(raw), ACCOUNT, COLUMNS) is None


def test_mapped_columns_must_be_in_the_file():
    assert check_refused({"mapping": {"email": "email", "stad": "city", "land": "city"}}) == (
        "mapping names column(s) not in the file: stad, land; the file has: email, first_name, KlantNr")


def test_created_fields_must_be_new():
    assert check_refused({"mapping": {"email": "email"}, "create_fields": {"city": "text"}}) == (
        "create_fields: field 'city' already exists")


@pytest.mark.parametrize("name", ["email", "status", "created_at", "updated_at"])
def test_created_fields_cannot_be_built_in(name):
    assert check_refused({"mapping": {"email": "email"}, "create_fields": {name: "text"}}) == (
        f"create_fields: '{name}' is a built-in field")


@pytest.mark.parametrize("name", ["1st", "_x", "first name", "voornaam-2", "é", "a" * 64, ""])
def test_created_fields_need_a_valid_name(name):
    assert check_refused({"mapping": {"email": "email"}, "create_fields": {name: "text"}}) == (
        f"create_fields: '{name}' is not a valid field name "
        "(a letter, then letters, digits or _; at most 63)")


@pytest.mark.parametrize("type_", ["blob", "Text", "integer", ""])
def test_created_fields_need_a_known_type(type_):
    assert check_refused({"mapping": {"email": "email"}, "create_fields": {"zip": type_}}) == (
        "create_fields: type of 'zip' must be one of text, number, date, boolean")


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
def test_timestamps_cannot_be_imported(field):
    assert check_refused({"mapping": {"email": "email", "first_name": field}}) == (
        f"mapping: '{field}' is set by the service and cannot be imported")


def test_mapped_fields_must_exist_or_be_created():
    assert check_refused({"mapping": {"email": "email", "first_name": "voornaam"}}) == (
        "mapping: column 'first_name' is mapped to unknown field 'voornaam' "
        "(create it first, or list it in create_fields)")


def test_two_columns_cannot_fill_one_field():
    assert check_refused({"mapping": {"email": "email", "first_name": "city", "KlantNr": "city"}}) == (
        "mapping: columns 'first_name' and 'KlantNr' are both mapped to 'city'")


def test_matching_by_address_needs_the_address_mapped():
    assert check_refused({"mapping": {"first_name": "first_name"}}) == (
        "matching by e-mail address needs a column mapped to the field 'email'")


def test_matching_by_id_needs_a_link_of_the_account():
    raw = {"match": {"by": "external_id", "link": "shop", "column": "KlantNr"}, "mapping": {}}
    assert check_refused(raw) == "match: unknown link 'shop' (this account's links: crm, webshop)"
    no_links = AccountInfo(1, "email", {}, {})
    assert check_refused(raw, no_links) == "match: unknown link 'shop' (this account's links: none)"


def test_matching_by_id_needs_the_id_column_in_the_file():
    raw = {"match": {"by": "external_id", "link": "crm", "column": "Lidnummer"},
           "mapping": {"email": "email"}}
    assert check_refused(raw) == "match: column 'Lidnummer' is not in the file"
