"""Possible doubles named (issue 13, item 8): contacts at one address with the same name (ignoring
case and accents) and, where known, the same birth date, under different IDs of one link are
"possibly the same person", at import (dry or not) and on the dedup page; a family member is not."""

from __future__ import annotations

import pytest
from page_helpers import signed_in

BY_CRM = {"by": "external_id", "link": "crm", "column": "KlantNr"}
MAPPING = {"email": "email", "Voornaam": "first_name", "Achternaam": "last_name", "Geboren": "birth_date"}
HEADER = ["KlantNr", "email", "Voornaam", "Achternaam", "Geboren"]


@pytest.fixture
def shop(make_tenant, import_ok):  # type: ignore[no-untyped-def]
    """An external_id account with Sanne Jansen (K1) and her daughter Daan at one address."""
    tenant = make_tenant("shop", "external_id", links={"crm": None},
                         fields={"first_name": "text", "last_name": "text", "birth_date": "date"})
    import_ok(tenant, [HEADER, ["K1", "sanne@example.nl", "Sanne", "Jansen", "1980-03-01"],
                       ["K2", "sanne@example.nl", "Daan", "Jansen", "2010-06-15"]],
              {"match": BY_CRM, "mapping": MAPPING})
    return tenant


def _doubles(job: dict) -> dict | None:
    return {w["code"]: w for w in job["warnings"]}.get("possible_duplicate_person")


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry", "real"])
def test_one_person_under_two_customer_numbers_is_named(shop, import_ok, dry_run):
    # K7 is Sanne again (other case, an accent, no birth date), K8 a new family member.
    job = import_ok(shop, [HEADER, ["K7", " SANNE@example.nl", "sänne", "JANSEN", ""],
                           ["K8", "sanne@example.nl", "Piet", "Jansen", "1979-01-01"]],
                    {"match": BY_CRM, "mapping": MAPPING, "dry_run": dry_run})
    warning = _doubles(job)
    assert warning is not None, job["warnings"]
    assert warning["count"] == 1
    assert "K1 and K7 (sanne@example.nl)" in warning["message"]
    assert warning["message"].startswith("1 group of contacts at one address has the same name")


def test_a_family_member_or_another_birthday_is_no_double(shop, import_ok):
    job = import_ok(shop, [HEADER, ["K9", "sanne@example.nl", "Sanne", "Jansen", "1981-03-01"],
                           ["K10", "sanne@example.nl", "Kees", "Jansen", ""]],
                    {"match": BY_CRM, "mapping": MAPPING, "dry_run": True})
    assert _doubles(job) is None, job["warnings"]
    # The same file's contacts again under their own numbers: one ID each, no group.
    again = import_ok(shop, [HEADER, ["K1", "sanne@example.nl", "Sanne", "Jansen", "1980-03-01"]],
                      {"match": BY_CRM, "mapping": MAPPING, "dry_run": True})
    assert _doubles(again) is None


def test_two_rows_of_one_file_are_a_group_and_the_count_goes_past_the_list(shop, import_ok):
    rows = [HEADER]
    for n in range(12):  # twelve households, each with one person under two numbers
        rows += [[f"A{n}", f"h{n}@example.nl", "Émile", "Dupré", "1970-01-01"],
                 [f"B{n}", f"h{n}@example.nl", "Emile", "dupre", "1970-01-01"]]
    warning = _doubles(import_ok(shop, rows, {"match": BY_CRM, "mapping": MAPPING, "dry_run": True}))
    assert warning is not None and warning["count"] == 12
    assert "A0 and B0 (h0@example.nl)" in warning["message"] and warning["message"].count(" and B") == 10
    assert " and 2 more. Check them in the linked system." in warning["message"]



def test_three_numbers_for_one_person_are_one_group(shop, import_ok):
    rows = [HEADER, ["C1", "fam@example.nl", "Joost", "Smit", "1970-01-01"],
            ["C2", "fam@example.nl", "Joost", "Smit", ""], ["C3", "FAM@example.nl", "joost", "smit", ""],
            # Two birthdays at one name: two people (a father and his son Joost junior).
            ["D1", "jr@example.nl", "Joost", "Bos", "1950-01-01"], ["D2", "jr@example.nl", "Joost", "Bos",
                                                                   "1980-01-01"]]
    warning = _doubles(import_ok(shop, rows, {"match": BY_CRM, "mapping": MAPPING, "dry_run": True}))
    assert warning is not None and warning["count"] == 1
    assert "possibly the same person: C1, C2 and C3 (fam@example.nl). Check" in warning["message"]


def test_the_dedup_page_lists_the_groups_of_each_link(app, engine, shop, import_ok):
    import_ok(shop, [HEADER, ["K7", "sanne@example.nl", "SÄNNE", "jansen", ""],
                     ["K8", "piet@example.nl", "Piet", "Smit", "1979-01-01"],
                     ["K9", "piet@example.nl", "Pieter", "Smit", "1979-01-01"]],
              {"match": BY_CRM, "mapping": MAPPING})
    manager = signed_in(app, engine, shop.id, "anna@shop.example")
    text = manager.get("/dedup").get_data(as_text=True)
    section = text[text.index('id="possible-doubles"'):]
    assert "<caption>CRM: 1 group</caption>" in section
    assert "<td>sanne@example.nl</td><td><code>K1</code>, <code>K7</code></td>" in section
    assert "K8" not in section and "K2" not in section  # another first name: another person
    dutch = manager.get("/dedup", headers={"Accept-Language": "nl-NL"}).get_data(as_text=True)
    assert "Mogelijk dezelfde persoon" in dutch and "CRM: 1 groep" in dutch


def test_the_dedup_page_without_doubles_says_so(app, engine, shop):
    text = signed_in(app, engine, shop.id, "anna@shop.example").get("/dedup").get_data(as_text=True)
    assert 'id="no-doubles"' in text
