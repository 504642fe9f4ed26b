"""The names Dutch and English exports give common fields, and what they suggest."""

from __future__ import annotations

import pytest

from importer.aliases import looks_like_id_column, normalise, suggest


def test_names_are_compared_without_case_accents_spaces_or_punctuation():
    assert normalise(" Geboorte-Datum ") == "geboortedatum"
    assert normalise("Téléphone") == "telephone"
    assert normalise("E-mail adres") == normalise("EmailAdres")


@pytest.mark.parametrize(("column", "field"), [
    ("E-mailadres", "email"), ("Email Address", "email"), ("Voornaam", "first_name"),
    ("First Name", "first_name"), ("achternaam", "last_name"), ("Last_Name", "last_name"),
    ("Woonplaats", "city"), ("Plaats", "city"), ("CITY", "city"), ("Geboortedatum", "birth_date"),
    ("Date of Birth", "birth_date"), ("Post-code", "postcode"), ("Telefoon", "phone"),
    ("Mobiel", "mobile"), ("Géboortedatum", "birth_date"),
])
def test_an_alias_suggests_the_accounts_field_of_the_common_name(column, field):
    fields = dict.fromkeys(["first_name", "last_name", "city", "birth_date", "postcode", "phone", "mobile"])
    assert suggest([column, "Opmerking"], fields).mapping == {column: field}


def test_an_alias_suggests_the_accounts_own_field_for_it_by_name_or_label():
    fields = {"voornaam": None, "geb": "Date of birth", "town": None}
    suggestion = suggest(["First Name", "Geboortedatum", "Woonplaats"], fields, create=True)
    # "town" is an alias of city, so the account's own field is taken, not a new "city"
    assert suggestion.mapping == {"First Name": "voornaam", "Geboortedatum": "geb", "Woonplaats": "town"}
    assert suggestion.create_fields == {}


def test_without_the_field_an_alias_offers_a_new_one_of_a_fitting_type():
    suggestion = suggest(["Voornaam", "Geboortedatum", "Plaats", "Woonplaats"], {}, create=True)
    assert suggestion.mapping == {"Voornaam": "first_name", "Geboortedatum": "birth_date", "Plaats": "city"}
    assert suggestion.create_fields == {"first_name": "text", "birth_date": "date", "city": "text"}
    assert suggest(["Voornaam"], {}).mapping == {}  # no new fields unless asked for


def test_a_label_matches_like_a_name():
    assert suggest(["Customer segment"], {"seg": "Customer Segment"}).mapping == {"Customer segment": "seg"}


def test_the_links_last_mapping_comes_first_for_columns_of_the_same_name():
    fields = dict.fromkeys(["first_name", "roepnaam"])
    previous = {"Voornaam": "roepnaam", "Gone": "email", "Old": "removed_field"}
    suggestion = suggest(["Voornaam", "First Name", "Old"], fields, previous=previous)
    assert suggestion.mapping == {"Voornaam": "roepnaam", "First Name": "first_name"}


def test_each_field_goes_to_one_column():
    suggestion = suggest(["Plaats", "Woonplaats", "City"], {}, create=True)
    assert suggestion.mapping == {"Plaats": "city"}
    assert suggest(["city", "Woonplaats"], {"city": None}).mapping == {"city": "city"}


@pytest.mark.parametrize("column", ["KlantNr", "Klantnummer", "CustomerID", "crm_id", "Lid-nummer"])
def test_customer_number_columns_look_like_ids(column):
    assert looks_like_id_column(column)
    assert suggest([column], {}, create=True).mapping == {}

