"""The messages of importer/, segments/ and the domain on Dutch pages: each said in Dutch (the
catalogue's translation of its template, its parameters filled in), with none of its English left;
the API's envelope for the same refusal stays English, byte for byte as before."""

from __future__ import annotations

import io
import json
import re

import pytest
from language_helpers import page_text
from page_helpers import csrf_token, signed_in
from sqlalchemy import text

from importer.said import grouped, said
from service.limits import described
from service.words import say

DUTCH = {"Accept-Language": "nl-NL,nl;q=0.9"}
FAMILY = [["nr", "email", "first_name", "age"],
          ["K1", "jan@home.nl", "Jan", "41"],
          ["K2", "JAN@home.nl", "Anna", "39"],
          ["K3", "piet@example.nl", "Piet", ""]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "age": "age"}}
STATUS_WANTED = "Status: verwacht: een van active, unsubscribed, bounced."
BY_CRM_EMAIL = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
                "mapping": {"email": "email"}}
EMAIL_ONLY = {"has_header": True, "delimiter": ",", "mapping": {"email": "email"}}


@pytest.fixture
def family(app, engine, make_tenant, import_rows):  # type: ignore[no-untyped-def]
    """An external-ID account with contacts, and a Dutch browser signed in as its manager."""
    tenant = make_tenant("family", "external_id", links={"crm": r"K\d+"},
                         fields={"first_name": "text", "age": "number"})
    import_rows(tenant, FAMILY, BY_CRM)
    web = signed_in(app, engine, tenant.id, "anna@family.example", is_admin=True)
    web.environ_base["HTTP_ACCEPT_LANGUAGE"] = DUTCH["Accept-Language"]
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT value, contact_id FROM external_ids WHERE account_id = :a"),
                                {"a": tenant.id}).all())
    return tenant, web, ids


def _seen(response) -> str:  # type: ignore[no-untyped-def]
    """The page's text as a person reads it (entities decoded)."""
    page = page_text(response.get_data(as_text=True))
    assert page.lang == "nl"
    return page.joined


def _edit(web, contact: int, **changes: str):  # type: ignore[no-untyped-def]
    """Post the contact's edit form (K1 as imported) with `changes` typed in."""
    form = web.get(f"/contacts/{contact}/edit")
    seen = re.search(r'name="seen" value="([^"]+)"', form.get_data(as_text=True))
    assert seen
    return web.post(f"/contacts/{contact}/edit", data={
        "csrf_token": csrf_token(form), "seen": seen.group(1), "email": "jan@home.nl",
        "field.first_name": "Jan", "field.age": "41", "id.crm": "K1", **changes})


@pytest.mark.parametrize(("changes", "dutch", "english"), [
    ({"field.age": "oud"}, "'oud' is geen geldig getal.", "is not a valid number"),
    ({"email": "geen adres"}, "Het adres heeft geen @-teken.", "must have an @-sign"),
    ({"id.crm": "X-1"}, "'X-1' past niet bij het ID-patroon van het gekoppelde systeem.",
     "does not match the link's ID pattern"),
])
def test_the_contact_form_says_a_bad_value_in_dutch(family, changes, dutch, english):
    _, web, ids = family
    response = _edit(web, ids["K1"], **changes)
    assert response.status_code == 400
    seen = _seen(response)
    assert dutch in seen, seen[-1500:]
    assert english not in seen


def test_a_name_taken_is_said_in_dutch_and_the_api_keeps_its_english(client, family):
    tenant, web, _ = family
    token = csrf_token(web.get("/segments/new"))
    form = {"csrf_token": token, "name": "Iedereen", "rules": '{"all": []}'}
    assert web.post("/segments/new", data=form).status_code == 302
    again = web.post("/segments/new", data=form)
    assert again.status_code == 400
    seen = _seen(again)
    assert "Dit account heeft al een segment met de naam 'Iedereen'." in seen, seen[-1500:]
    assert "already" not in seen
    # The same refusals over the API: the envelope as it always was.
    taken = client.post("/api/v1/segments", headers={**tenant.auth(), **DUTCH},
                        json={"name": "Iedereen", "rules": {"all": []}})
    assert (taken.status_code, taken.json) == (409, {"error": {
        "code": "conflict", "message": "this account has a segment named 'Iedereen' already"}})
    link = client.post("/api/v1/links", headers={**tenant.auth(), **DUTCH},
                       json={"name": "crm", "label": "CRM"})
    assert (link.status_code, link.json) == (409, {"error": {
        "code": "conflict", "message": "this account has a link named 'crm' already"}})


def test_a_rule_with_a_bad_value_is_said_in_dutch(client, family):
    tenant, web, _ = family
    token = csrf_token(web.get("/segments/new"))
    rules = {"all": [{"field": "status", "op": "eq", "value": "weg"}]}
    saved = web.post("/segments/new", data={"csrf_token": token, "name": "x", "rules": json.dumps(rules)})
    assert saved.status_code == 400
    seen = _seen(saved)
    assert STATUS_WANTED in seen, seen[-1500:]
    assert "expected one of" not in seen
    preview = web.post("/segments/preview", json={"rules": rules}, headers={"X-CSRFToken": token})
    assert preview.json["error"] == {"where": "rules.all[0].value", "message": STATUS_WANTED}
    api = client.post("/api/v1/segments", headers={**tenant.auth(), **DUTCH},
                      json={"name": "x", "rules": rules})
    assert api.status_code == 400 and api.json["error"]["message"] == (
        "rules.all[0].value: expected one of active, unsubscribed, bounced")


def test_a_file_that_cannot_be_read_is_said_in_dutch(family):
    _, web, _ = family
    token = csrf_token(web.get("/imports/new"))
    response = web.post("/imports/new", content_type="multipart/form-data",
                        data={"csrf_token": token, "file": (io.BytesIO(b""), "leeg.csv")})
    assert response.status_code == 400
    seen = _seen(response)
    assert "Dit bestand kan niet worden gelezen: het bestand is leeg." in seen, seen[-1500:]
    assert "the file is empty" not in seen


def test_a_failed_import_is_said_in_dutch_on_its_report(client, family, post_import):
    tenant, web, _ = family
    good = b"email\r\n" + b"".join(b"person%d@example.nl\r\n" % i for i in range(6000))
    job = post_import(tenant, good + b"caf\xe9@example.nl\r\n", EMAIL_ONLY).json
    assert job["status"] == "failed"
    assert job["error"] == ("cannot decode the file as utf-8: row 6002 (line 6002) has bytes that are not "
                            "valid utf-8 (invalid continuation byte); choose another encoding")
    seen = _seen(web.get(f"/imports/{job['id']}"))
    assert ("het bestand is niet te lezen als utf-8: rij 6002 (regel 6002) bevat bytes die geen geldige "
            "utf-8 zijn (een ongeldige reeks bytes); kies een andere tekenset") in seen, seen[-1500:]
    assert "cannot decode" not in seen and "continuation" not in seen
    # The API says it as before.
    assert client.get(f"/api/v1/imports/{job['id']}", headers=tenant.auth()).json["error"] == job["error"]


def test_an_old_failed_import_without_words_shows_its_english(engine, family, post_import):
    tenant, web, _ = family
    job = post_import(tenant, b"email\r\n" + b"x@example.nl\r\n" * 6000 + b"\xff\r\n", EMAIL_ONLY).json
    assert job["status"] == "failed"
    with engine.begin() as conn:
        conn.execute(text("UPDATE imports SET error = 'an old sentence', error_words = NULL WHERE id = :i"),
                     {"i": job["id"]})
    assert "an old sentence" in _seen(web.get(f"/imports/{job['id']}"))


def test_a_dedup_change_refused_is_said_in_dutch(client, family):
    tenant, web, _ = family
    token = csrf_token(web.get("/dedup"))
    undo = web.post("/dedup/undo", data={"csrf_token": token, "change_id": "7", "confirm": "yes"})
    assert undo.status_code == 404  # no such change
    preview = web.get("/dedup?preview=1&representative=prefer_non_empty")
    assert preview.status_code == 400
    seen = _seen(preview)
    assert ("De regel voor de ontvanger per adres is niet bruikbaar: kies het veld waarvan de waarde "
            "bepaalt welk contact blijft.") in seen, seen[-2000:]
    assert "choose the field" not in seen
    applied = web.post("/dedup/apply", data={"csrf_token": token, "to": "email", "confirm": "yes"})
    assert applied.status_code == 302
    for _ in range(2):
        undone = web.post("/dedup/undo", data={"csrf_token": token, "change_id": "1", "confirm": "yes"})
    seen = _seen(undone)
    assert undone.status_code == 409 and "Wijziging 1 is al ongedaan gemaakt." in seen, seen[-2000:]
    assert "undone already" not in seen
    api = client.get("/api/v1/dedup/preview?to=external_id&link=crm", headers={**tenant.auth(), **DUTCH})
    assert (api.status_code, api.json) == (409, {"error": {
        "code": "conflict", "message": "the account deduplicates by external_id already"}})


def test_an_imports_warnings_are_said_in_dutch_from_their_stored_words(client, engine, family, import_rows):
    tenant, web, _ = family
    rows = [["nr", "email"], ["K8", "kim@gmial.com"], ["K9", "kim@gmial.com"]]
    job = import_rows(tenant, rows, BY_CRM_EMAIL)
    english = {w["code"]: w["message"] for w in job["warnings"]}
    assert english["possible_typo_domain"] == (
        "Some domains look like misspelt providers: gmial.com -> gmail.com (2). 2 rows have such a domain: "
        "rows 2, 3. These rows are imported as they are.")
    assert all(set(w) == {"code", "message", "count"} for w in job["warnings"])  # the API's, as before
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT warnings FROM imports WHERE id = :i"),
                              {"i": job["id"]}).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert all(w["words"]["template"] for w in stored)
    seen = _seen(web.get(f"/imports/{job['id']}"))
    dutch = ("Sommige domeinen lijken op verkeerd gespelde providers: gmial.com -> gmail.com (2). 2 rijen "
             "hebben zo'n domein: rijen 2, 3. Deze rijen worden geïmporteerd zoals ze zijn.")
    assert dutch in seen, seen[-900:]
    assert "misspelt" not in seen


def test_a_limit_is_said_with_dutch_figures(app):
    """A count said with importer.said's grouped(): "1,000" in English, "1.000" on a Dutch page."""
    message = described(said("the file has more than %(max_rows)s rows", max_rows=grouped(1_000)), "max_rows")
    assert message == ("the file has more than 1,000 rows (the limit SAFEGUARD_MAX_ROWS; an operator can "
                       "raise it)")
    with app.test_request_context(headers=DUTCH):
        assert say(message) == ("het bestand heeft meer dan 1.000 rijen (de limiet SAFEGUARD_MAX_ROWS; een "
                                "beheerder kan die verhogen)")
    with app.test_request_context():
        assert say(message) == str(message)
