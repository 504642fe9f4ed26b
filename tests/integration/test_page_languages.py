"""Every page in Dutch and in English, signed in, with data: the language chosen as DESIGN.md
"Pages in Dutch and English" says (the user's setting, else Accept-Language, else English), no
English left on a Dutch page and no Dutch on an English one, and dates and numbers in the
language's format."""

from __future__ import annotations

import io
import re

import pytest
from flask import render_template_string
from flask.testing import FlaskClient
from language_helpers import PageText, leftovers, page_text, same_in_both, translated_pairs
from page_helpers import csrf_token, signed_in
from sqlalchemy import text
from sqlmodel import Session

from service.models import ImportJob

DUTCH_BROWSER = "nl-NL,nl;q=0.9,en;q=0.5"
FAMILY = [["nr", "email", "first_name", "city"],
          ["K1", "jan@home.nl", "Jan", "Utrecht"],
          ["K2", "jan@home.nl", "Anna", "Utrecht"],
          ["K3", "piet@example.nl", "Piet", "Zwolle"],
          ["K4", "not an address", "Kees", "Ede"]]  # rejected: a report with a reason
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "city": "city"}}
WIZARD_FILE = b"e-mail,voornaam\r\ndirk@example.nl,Dirk\r\n"


def _browser(client: FlaskClient, accept_language: str | None) -> FlaskClient:
    if accept_language is None:
        client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    else:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept_language
    return client


@pytest.fixture
def family(app, engine, make_tenant, import_ok, client):  # type: ignore[no-untyped-def]
    """An account with data on every page: contacts (one unsubscribed, with history), an import
    with a rejected row, a segment and a mailing; a signed-in user."""
    tenant = make_tenant("family", "external_id", links={"crm": r"K\d+"},
                         fields={"first_name": "text", "city": "text"})
    job = import_ok(tenant, FAMILY, {"has_header": True, "delimiter": ",", **BY_CRM})
    segment = client.post("/api/v1/segments", headers=tenant.auth(), json={
        "name": "Utrecht", "rules": {"field": "city", "op": "eq", "value": "Utrecht"}}).json
    mailing = client.post("/api/v1/mailings", headers=tenant.auth(),
                          json={"name": "Voorjaar", "include": [segment["id"]]}).json
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT value, contact_id FROM external_ids WHERE account_id = :a"),
                                {"a": tenant.id}).all())
    token = csrf_token(web.get("/contacts"))
    unsubscribed = web.post(f"/contacts/{ids['K3']}/unsubscribe",
                            data={"csrf_token": token, "note": "telefoon"})
    assert unsubscribed.status_code == 302
    web.get(unsubscribed.headers["Location"])  # shows (and so clears) the message, said in English
    return {"web": web, "token": token, "job": job["id"], "segment": segment["id"], "mailing": mailing["id"],
            "contact": ids["K1"], "unsubscribed": ids["K3"]}


def _walk_the_wizard(web: FlaskClient, token: str) -> str:
    """A wizard draft up to its review (a dry run); the path of its steps."""
    step = web.post("/imports/new", content_type="multipart/form-data",
                    data={"csrf_token": token, "file": (io.BytesIO(WIZARD_FILE), "leden.csv")})
    base = step.headers["Location"].rsplit("/", 1)[0]
    for name, form in (("file", {"encoding": "utf-8", "delimiter": "comma", "has_header": "yes",
                                 "action": "next"}),
                       ("options", {"mode": "upsert"}), ("external-id", {"link": ""}),
                       ("fields", {"field_0": "email", "field_1": "__new__", "new_name_1": "voornaam",
                                   "new_type_1": "text"})):
        answer = web.post(f"{base}/{name}", data={"csrf_token": token, **form})
        assert answer.status_code == 302, (name, answer.get_data(as_text=True)[:3000])
    return base


def _pages(family: dict, draft: str) -> list[tuple[str, int]]:
    contact = family["contact"]
    return [
        ("/", 200), ("/contacts", 200), ("/contacts?q=jan@home.nl", 200), (f"/contacts/{contact}", 200),
        (f"/contacts/{contact}/edit", 200), (f"/contacts/{contact}/erase", 200),
        (f"/contacts/{family['unsubscribed']}", 200),
        (f"/contacts/{family['unsubscribed']}/resubscribe", 200),
        ("/imports/new", 200), (f"/imports/{family['job']}", 200),
        (f"{draft}/file", 200), (f"{draft}/options", 200), (f"{draft}/external-id", 200),
        (f"{draft}/fields", 200), (f"{draft}/review", 200),
        ("/segments", 200), ("/segments/new", 200), (f"/segments/{family['segment']}", 200),
        ("/mailings", 200), ("/mailings/new", 200), (f"/mailings/{family['mailing']}", 200),
        ("/dedup", 200), ("/dedup?preview=1", 200), ("/segments/987654", 404),
    ]


# Data of the fixture, and what is code or a proper name: the same on a page in either language.
DATA = {"family", "anna@family.example", "jan@home.nl", "piet@example.nl", "Jan", "Anna", "Piet", "Kees",
        "Utrecht", "Zwolle", "Ede", "Voorjaar", "crm", "nr", "city", "first_name", "email", "leden.csv",
        "e-mail", "voornaam", "dirk@example.nl", "Dirk", "telefoon", "English", "Nederlands", "UTF-8",
        "Latin-1 (ISO-8859-1)", "UTC", "K1", "K2", "K3", "K4", "not an address", "upsert", "invalid_email",
        "CRM", "Mailing safeguard", "contacts.csv"}


def _words_alike(dutch: PageText, english: PageText) -> list[str]:
    """Texts shown on the Dutch page exactly as on the English one that still hold a word once
    the data and the words Dutch shares with English are taken out: words left untranslated."""
    allowed = sorted(same_in_both() | DATA, key=len, reverse=True)  # the longest phrase first
    phrases = re.compile(r"(?<![\w@.-])(?:" + "|".join(map(re.escape, allowed)) + r")(?![\w@-])")
    return sorted(shown for shown in set(dutch.texts) & set(english.texts)
                  if re.search(r"[A-Za-z]{2}", phrases.sub(" ", shown)))


def test_every_page_is_dutch_for_a_dutch_browser_and_english_otherwise(family):  # type: ignore[no-untyped-def]
    web = family["web"]
    dutch_words = [dutch for _, dutch in translated_pairs()] + sorted(same_in_both())
    english_words = [english for english, _ in translated_pairs()] + sorted(same_in_both())
    problems = []
    for path, status in _pages(family, _walk_the_wizard(web, family["token"])):
        dutch_answer = _browser(web, DUTCH_BROWSER).get(path)
        english_answer = _browser(web, "en-GB,en;q=0.8").get(path)
        assert (dutch_answer.status_code, english_answer.status_code) == (status, status), path
        dutch = page_text(dutch_answer.get_data(as_text=True))
        english = page_text(english_answer.get_data(as_text=True))
        if dutch.lang != "nl" or english.lang != "en":
            problems.append(f"{path}: lang {dutch.lang!r} and {english.lang!r}")
        if left := leftovers(dutch, english_words, dutch_words):
            problems.append(f"{path} in Dutch has English: {left}")
        if left := leftovers(english, dutch_words, english_words):
            problems.append(f"{path} in English has Dutch: {left}")
        if alike := _words_alike(dutch, english):
            problems.append(f"{path}: the same words in both languages: {alike}")
    assert problems == [], "\n".join(problems)


def test_a_dutch_page_says_the_campaign_managers_words(family, engine):  # type: ignore[no-untyped-def]
    web = _browser(family["web"], "nl-BE")
    home = web.get("/").get_data(as_text=True)
    assert '<html lang="nl">' in home
    for words in ("Contacten", "Bestand importeren", "Segmenten", "Ontdubbelregel", "Uitloggen"):
        assert f">{words}<" in home, words
    missing = web.get("/segments/987654")
    assert missing.status_code == 404 and "<h1>Niet gevonden</h1>" in missing.get_data(as_text=True)
    mailing = web.get(f"/mailings/{family['mailing']}").get_data(as_text=True)
    assert "Verzendlijst downloaden (CSV)" in mailing and "Voorbeeld" in mailing
    contact = web.get(f"/contacts/{family['contact']}").get_data(as_text=True)
    assert ">Afmelden</button>" in contact
    # Numbers in Dutch thousands: a report of 12,345 rows (without importing them).
    with Session(engine) as session:
        job = session.get(ImportJob, family["job"])
        job.report = {**job.report, "rows": 12345}
        session.add(job)
        session.commit()
    assert re.search(r'<td class="num" data-count="rows">12\.345</td>', web.get("/").get_data(as_text=True))


def test_the_users_own_language_wins_over_the_browsers(family):  # type: ignore[no-untyped-def]
    web = _browser(family["web"], DUTCH_BROWSER)
    assert '<html lang="nl">' in web.get("/").get_data(as_text=True)
    chosen = web.post("/language",
                      data={"csrf_token": family["token"], "language": "en", "next": "/segments"})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/segments"
    page = web.get("/segments").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Segments</h1>" in page
    assert 'value="en" lang="en" selected' in page
    _browser(web, None)
    web.post("/language", data={"csrf_token": family["token"], "language": "nl", "next": "/"})
    assert "<h1>Segmenten</h1>" in web.get("/segments").get_data(as_text=True)
    # Back to the browser's language; and a next outside the site is not followed.
    away = web.post("/language", data={"csrf_token": family["token"], "language": "",
                                       "next": "https://elsewhere.example/"})
    assert away.headers["Location"] == "/"
    assert "<h1>Segments</h1>" in _browser(web, "en").get("/segments").get_data(as_text=True)
    assert "<h1>Segmenten</h1>" in _browser(web, "nl").get("/segments").get_data(as_text=True)


@pytest.mark.parametrize(("accept", "lang"), [("nl", "nl"), ("nl-NL", "nl"), ("nl-BE,fr;q=0.5", "nl"),
                                              ("de-DE,nl;q=0.7,en;q=0.3", "nl"), ("fr", "en"), (None, "en"),
                                              ("en-US,nl;q=0.9", "en")])
def test_the_browsers_language_for_a_signed_out_person(app, accept, lang):  # type: ignore[no-untyped-def]
    answer = _browser(app.test_client(), accept).get("/sign-in")
    page = answer.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and "Accept-Language" in answer.headers["Vary"]
    assert (">Inloggen</button>" if lang == "nl" else ">Sign in</button>") in page


def test_the_error_pages_speak_the_browsers_language(app):  # type: ignore[no-untyped-def]
    web = _browser(app.test_client(), DUTCH_BROWSER)
    expired = web.post("/segments/new", data={"name": "x"})  # no CSRF token
    assert expired.status_code == 400 and "Het formulier is verlopen" in expired.get_data(as_text=True)
    nowhere = _browser(app.test_client(), "nl").get("/no/such/page")
    assert nowhere.status_code == 404 and '<html lang="nl">' in nowhere.get_data(as_text=True)


def test_flash_messages_and_form_errors_in_dutch(family):  # type: ignore[no-untyped-def]
    web = _browser(family["web"], DUTCH_BROWSER)
    unnamed = web.post("/segments/new",
                       data={"csrf_token": family["token"], "name": "", "rules": '{"all": []}'})
    assert unnamed.status_code == 400 and "Geef het segment een naam." in unnamed.get_data(as_text=True)
    no_segment = web.post("/mailings/new", data={"csrf_token": family["token"], "name": "Zomer"})
    assert "Kies minstens één segment om naar te verzenden." in no_segment.get_data(as_text=True)
    again = web.post(f"/contacts/{family['unsubscribed']}/resubscribe",
                     data={"csrf_token": family["token"], "consent": "Opnieuw aangemeld op de beurs"})
    assert again.status_code == 302
    shown = web.get(again.headers["Location"]).get_data(as_text=True)
    assert "piet@example.nl is weer aangemeld." in shown
    assert "handmatig" in shown  # the history's "by hand"


@pytest.mark.parametrize(("accept", "number", "moment"), [
    ("nl", "1.234.567", "02-03-2026 04:05"), ("en", "1,234,567", "2026-03-02 04:05")])
def test_numbers_and_dates_in_the_languages_format(app, accept, number, moment):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    template = "{{ 1234567|decimalformat }} {{ moment|when }}"
    with app.test_request_context("/", headers={"Accept-Language": accept}):
        said = render_template_string(template, moment=datetime(2026, 3, 2, 4, 5, 6, tzinfo=UTC))
    assert said == f"{number} {moment}"
