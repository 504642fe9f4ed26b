"""Changing and deleting a segment on its pages, its conditions in words and its errors readable,
in Dutch and in English, through the test client on both databases."""

from __future__ import annotations

import re

import pytest
from page_helpers import csrf_token, signed_in
from sqlmodel import Session

from service.domain.accounts import create_field
from service.models import Account

ROWS = [["E-mail", "Stad", "Geboren"], ["ann@example.nl", "Utrecht", "1990-05-17"],
        ["bob@example.nl", "Delft", "2020-01-01"]]
SETTINGS = {"match": {"by": "email"}, "mapping": {"E-mail": "email", "Stad": "city", "Geboren": "born"}}
RULES = {"all": [{"field": "city", "op": "in", "value": ["Amsterdam", "Utrecht"]},
                 {"field": "born", "op": "more_than_years_ago", "value": 18}]}
DUTCH = {"Accept-Language": "nl-NL,nl;q=0.9"}
ENGLISH = {"Accept-Language": "en-GB"}


@pytest.fixture
def shop(app, engine, client, make_tenant, import_rows):  # type: ignore[no-untyped-def]
    tenant = make_tenant("shop")
    with Session(engine) as session:
        account = session.get(Account, tenant.id)
        create_field(session, account=account, name="city", type="text", label="Woonplaats")
        create_field(session, account=account, name="born", type="date", label="Geboortedatum")
    import_rows(tenant, ROWS, SETTINGS)
    segment = client.post("/api/v1/segments", json={"name": "Volwassen", "rules": RULES},
                          headers=tenant.auth())
    assert segment.status_code == 201, segment.json
    web = signed_in(app, engine, tenant.id, "anna@shop.example")
    return tenant, web, segment.json["id"]


def _words(html: str) -> str:
    """The page's text: tags out, spaces as one."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ,", ",")


@pytest.mark.parametrize(("headers", "city", "age"), [
    (DUTCH, "Woonplaats is een van Amsterdam, Utrecht",
     "Geboortedatum minstens 18 jaar geleden (18 of ouder)"),
    (ENGLISH, "Woonplaats is one of Amsterdam, Utrecht",
     "Geboortedatum at least 18 years ago (18 or older)"),
])
def test_saved_conditions_read_as_words(shop, headers, city, age):
    _, web, segment_id = shop
    text = _words(web.get(f"/segments/{segment_id}", headers=headers).get_data(as_text=True))
    assert city in text and age in text, text


@pytest.mark.parametrize(("headers", "message"), [
    (DUTCH, "Geboortedatum: geef een datum als 2026-12-31."),
    (ENGLISH, "Geboortedatum: give a date as 2026-12-31."),
])
def test_rule_errors_say_what_to_give(shop, headers, message):
    _, web, _ = shop
    token = csrf_token(web.get("/segments/new"))
    wrong = {"all": [{"field": "city", "op": "eq", "value": "Delft"},
                     {"field": "born", "op": "gt", "value": ""}]}
    answer = web.post("/segments/preview", json={"rules": wrong}, headers={"X-CSRFToken": token, **headers})
    assert answer.status_code == 400
    assert answer.json["error"] == {"where": "rules.all[1].value", "message": message}
    negative = '{"field": "born", "op": "within_last_years", "value": -1}'
    saved = web.post("/segments/new", headers=headers,
                     data={"csrf_token": token, "name": "x", "rules": negative})
    assert saved.status_code == 400
    expected = ("een heel aantal jaren, zoals 18" if headers is DUTCH
                else "a whole number of years, such as 18")
    assert expected in saved.get_data(as_text=True)


def test_change_a_segment_on_its_page(shop, client):
    tenant, web, segment_id = shop
    form = web.get(f"/segments/{segment_id}/edit")
    assert form.status_code == 200 and "Volwassen" in form.get_data(as_text=True)
    delft = {"field": "city", "op": "eq", "value": "Delft"}
    changed = web.post(f"/segments/{segment_id}/edit", data={
        "csrf_token": csrf_token(form), "name": "Delft",
        "rules": '{"field": "city", "op": "eq", "value": "Delft"}'})
    assert changed.status_code == 302 and changed.headers["Location"] == f"/segments/{segment_id}"
    stored = client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).json
    assert (stored["name"], stored["rules"]) == ("Delft", delft)


def test_a_segment_a_mailing_uses_stays(shop, client):
    tenant, web, segment_id = shop
    mailing = client.post("/api/v1/mailings", json={"name": "Nieuwsbrief", "include": [segment_id]},
                          headers=tenant.auth())
    assert mailing.status_code == 201
    page = web.get(f"/segments/{segment_id}/delete", headers=DUTCH).get_data(as_text=True)
    assert "Mailing Nieuwsbrief gebruikt dit segment" in page and 'id="delete-form"' not in page
    token = csrf_token(web.get("/segments/new"))
    refused = web.post(f"/segments/{segment_id}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 409
    changed = web.post(f"/segments/{segment_id}/edit", data={"csrf_token": token, "name": "Volwassen",
                                                             "rules": '{"all": []}'})
    assert changed.status_code == 409 and "Nieuwsbrief" in changed.get_data(as_text=True)
    assert client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).json["rules"] == RULES


def test_delete_a_segment_once_confirmed(shop, client):
    tenant, web, segment_id = shop
    page = web.get(f"/segments/{segment_id}/delete")
    assert 'id="delete-form"' in page.get_data(as_text=True)
    token = csrf_token(page)
    unticked = web.post(f"/segments/{segment_id}/delete", data={"csrf_token": token})
    assert unticked.status_code == 400 and b"Tick the box" in unticked.data
    deleted = web.post(f"/segments/{segment_id}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/segments"
    assert "Segment “Volwassen” is deleted." in web.get("/segments").get_data(as_text=True)
    assert client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).status_code == 404
    assert web.get(f"/segments/{segment_id}").status_code == 404
