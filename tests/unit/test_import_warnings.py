"""The import's warnings said in Dutch on a page: every warning importer/guards.py writes has a
pattern in service/web/import_warnings.py, and the sentences as guards.py writes them come out in
Dutch with their figures and names; a sentence no pattern knows stays as it was."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel

from importer import guards
from service.web.import_warnings import PATTERNS, warning_words

ROOT = Path(__file__).resolve().parents[2]
# Sentences as guards.py writes them (its f-strings filled in).
SAMPLES = [
    ("id_column_mismatch", "Column 'KlantNr' does not look like crm's IDs: only 2 of 40 IDs are known, while "
     "30 of the unknown rows have addresses that already exist; 30 double contacts would arise (the same "
     "person under two IDs). Check that the column holds exactly the IDs of the linked system.",
     ["KlantNr", "crm", "30 dubbele contacten", "dezelfde persoon onder twee ID's"]),
    ("match_by_id_in_email_account", "This account deduplicates by e-mail address, but the import matches by "
     "crm's ID; rows whose address belongs to another contact are rejected.", ["het ID van crm"]),
    ("different_link", "The previous import used the link 'crm'; this one uses 'shop'. Each link has its own "
     "IDs: make sure the column holds this link's IDs.", ["'crm'", "'shop'"]),
    ("match_by_email_in_external_id_account", "This account deduplicates by external ID, but the import "
     "matches by e-mail address: 3 contacts would be created without an external ID and 2 rows are "
     "ambiguous (several contacts share the address). Import by external ID instead.",
     ["3 contacten", "2 rijen"]),
    ("created_without_external_id", "3 contacts would be created without an external ID.", ["3 contacten"]),
    ("ambiguous_address", "2 rows match addresses that several contacts share.", ["2 rijen"]),
    ("created_shared_address", "4 new contacts share their address with another contact; mailings send "
     "such an address one copy unless they opt in to per-contact copies.", ["4 nieuwe contacten"]),
    ("status_kept", "5 rows say active (or leave the status empty) for contacts that unsubscribed or "
     "bounced: those contacts keep their status, since an import never re-subscribes anyone; the rest of "
     "these rows applies. Re-subscribe a contact explicitly, with the person's consent.",
     ["5 rijen zeggen actief (of laten de status leeg)"]),
    ("possible_typo_domain", "Some domains look like misspelt providers: gmial.com (3), hotmial.com (1) "
     "and 2 more. These rows are imported as they are.", ["gmial.com (3), hotmial.com (1) en nog 2"]),
    ("possible_typo_domain", "Some domains look like misspelt providers: gmial.com -> gmail.com (7). 7 rows "
     "have such a domain: rows 2, 5, 9, 12, 20 and 2 more. These rows are imported as they are.",
     ["gmial.com -> gmail.com (7). 7 rijen hebben zo'n domein: rijen 2, 5, 9, 12, 20 en nog 2.",
      "Deze rijen worden geïmporteerd"]),
    ("possible_typo_domain", "Some domains look like misspelt providers: gmial.com -> gmail.com (1). 1 row "
     "has such a domain: row 4. These rows are imported as they are.",
     ["1 rij heeft zo'n domein: rij 4. Deze"]),
    ("mixed_script_address", "12 addresses mix scripts within one word, so that they look like other "
     "addresses (a Cyrillic letter for a Latin one that looks the same): row 2 paypal@p\u0430ypal.com "
     "(Latin, Cyrillic), row 7 b\u0430nk@example.com (Latin, Cyrillic) and 10 more. These rows are imported "
     "as they are; check them.",
     ["(12)", "rij 2 paypal@p\u0430ypal.com", "rij 7 b\u0430nk@example.com", "en nog 10"]),
    ("possible_duplicate_person", "12 groups of contacts at one address have the same name and, where known, "
     "birth date under different IDs of crm, possibly the same person: K1 and K7 (sanne@example.nl), A 0, "
     "A 1 and B 0 (h0@example.nl) and 10 more. Check them in the linked system.",
     ["Mogelijk dezelfde persoon (12)", "ID's van crm", "K1 en K7 (sanne@example.nl), A 0, A 1 en B 0 "
      "(h0@example.nl) en nog 10.", "gekoppelde systeem"]),
    ("possible_duplicate_person", "1 group of contacts at one address has the same name and, where known, "
     "birth date under different IDs of crm, possibly the same person: K1 and K7 (sanne@example.nl). "
     "Check them in the linked system.", ["Mogelijk dezelfde persoon (1)", ": K1 en K7 (sanne@example.nl)."]),
]


@pytest.fixture
def dutch():  # type: ignore[no-untyped-def]
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "service" / "translations")
    Babel(app, locale_selector=lambda: "nl")
    with app.test_request_context("/"):
        yield


def test_every_warning_of_the_importer_has_a_pattern() -> None:
    codes = set(re.findall(r'_warning\(\s*"(\w+)"', (ROOT / "importer" / "guards.py").read_text()))
    assert len(codes) == len(guards.WARNINGS) and codes == set(PATTERNS)
    assert {code for code, _, _ in SAMPLES} == set(PATTERNS)


@pytest.mark.parametrize(("code", "english", "parts"), SAMPLES, ids=[code for code, _, _ in SAMPLES])
def test_a_warning_in_dutch(dutch, code: str, english: str, parts: list[str]) -> None:  # type: ignore[no-untyped-def]
    said = warning_words({"code": code, "message": english, "count": 1})
    assert said != english
    for part in parts:
        assert part in said, said


def test_a_sentence_no_pattern_knows_stays_as_it_was(dutch) -> None:  # type: ignore[no-untyped-def]
    warning = {"code": "created_shared_address", "message": "Something else entirely.", "count": 1}
    assert warning_words(warning) == "Something else entirely."
    assert warning_words({"code": "new_code", "message": "A new warning.", "count": 1}) == "A new warning."
