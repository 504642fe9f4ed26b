"""The isolation matrix (issue 11): every route of the app, walked from its URL map, against keys and
users that may not use it, on SQLite and PostgreSQL.

Each API endpoint is called (a) without a key and (b) with an unknown key: 401; (c) with the other
account's key of the right scope on this account's ids: 404, as if they did not exist; (d) with each
scope that does not grant it: 403. Each page is asked by the other account's user for this account's
ids: 404; and by a signed-out browser: a redirect to sign-in. No answer holds the victim's data, and
the victim's contacts and ledger are as they were. A route missing from ROUTES fails
`test_every_route_is_in_the_matrix` until it is listed here.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from service.domain.api_keys import GRANTS
from tests.hostile.conftest import Party, World
from tests.integration.page_helpers import csrf_token

SCOPES = tuple(GRANTS)
UNKNOWN_KEY = "sg_" + "x" * 43
MARK = re.compile("victim", re.IGNORECASE)  # in every name, address and label of the victim


@dataclass(frozen=True)
class Route:
    """How to call one route: its method, a body builder (given the victim's ids), and what the
    other account may see. `cross` is "404" (ids in the path), "blind" (no ids: an answer of the
    caller's own, without the victim's data) or "own" (it makes something of the caller's own:
    not called across accounts)."""

    method: str
    scope: str | None = "manage"  # None: any key (API), or any signed-in user (pages)
    body: Any = None  # a callable(ids) -> json body, or form fields for pages
    cross: str = "404"
    public: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def contacts_of(ids: dict[str, int]) -> dict[str, Any]:
    return {"contacts": [ids["contact_id"]]}


API = {
    "api.get_account": Route("GET", scope=None, cross="blind"),
    "api.list_contacts": Route("GET", cross="blind"),
    "api.get_contact": Route("GET"),
    "api.edit_contact": Route("PATCH", body=lambda ids: {"fields": {"first_name": "Changed"}}),
    "api.erase_contact": Route("DELETE"),
    "api.contact_history": Route("GET"),
    "api.resubscribe_contact": Route("POST", body=lambda ids: {"consent": "asked by phone"}),
    "api.unsubscribe_contact": Route("POST", body=lambda ids: {"detail": "asked by phone"}),
    "api.export_contacts": Route("GET", cross="blind"),
    "api.apply": Route("POST", scope="admin", body=lambda ids: {"to": "email"}, cross="own"),
    "api.changes": Route("GET", cross="blind"),
    "api.preview": Route("GET", cross="blind", extra={"query_string": {"to": "email"}}),
    "api.undo": Route("POST", scope="admin", body=lambda ids: {"change_id": ids["change_id"]}),
    "api.lift_erasure": Route("POST", scope="admin", body=lambda ids: {"address": "anna@victim.example"},
                              cross="own"),
    "api.report_events": Route("POST", scope="send", cross="blind", body=lambda ids: {
        "events": [{"type": "unsubscribe", "contact": ids["contact_id"]},
                   {"type": "bounce", "address": "anna@victim.example", "mailing": ids["mailing_id"]}]}),
    "api.create_field": Route("POST", body=lambda ids: {"name": "city", "type": "text"}, cross="own"),
    "api.create_import": Route("POST", cross="own", extra={"content_type": "multipart/form-data"},
                               body=lambda ids: {"file": (io.BytesIO(b"email\nx@example.nl\n"), "c.csv"),
                                                 "settings": '{"mapping": {"email": "email"}}'}),
    "api.get_import": Route("GET"),
    "api.list_imports": Route("GET", cross="blind"),
    "api.rejected_csv": Route("GET"),
    "api.inspect": Route("POST", cross="own", extra={"content_type": "multipart/form-data"},
                         body=lambda ids: {"file": (io.BytesIO(b"email\nx@example.nl\n"), "c.csv")}),
    "api.create_key": Route("POST", scope="admin", body=lambda ids: {"name": "x", "scope": "send"},
                            cross="own"),
    "api.list_keys": Route("GET", scope="admin", cross="blind"),
    "api.revoke_key": Route("DELETE", scope="admin"),
    "api.create_link": Route("POST", body=lambda ids: {"name": "shop", "label": "Shop"}, cross="own"),
    "api.create_mailing": Route("POST", cross="blind",
                                body=lambda ids: {"name": "m", "include": [ids["segment_id"]]}),
    "api.list_mailings": Route("GET", cross="blind"),
    "api.get_mailing": Route("GET"),
    "api.change_mailing": Route("PATCH", body=lambda ids: {"name": "changed by an intruder"}),
    "api.delete_mailing": Route("DELETE"),
    "api.copy_mailing": Route("POST", body=lambda ids: {}),
    "api.check": Route("POST", scope="send", body=contacts_of),
    "api.confirm": Route("POST", scope="send", body=contacts_of),
    "api.release": Route("POST", scope="send", body=contacts_of),
    "api.mailing_ledger": Route("GET"),
    "api.preview_mailing": Route("GET"),
    "api.mailing_recipients": Route("GET"),
    "api.openapi_json": Route("GET", public=True),
    "api.post_segment": Route("POST", body=lambda ids: {"name": "s", "rules": {"all": []}}, cross="own"),
    "api.list_segments": Route("GET", cross="blind"),
    "api.get_segment": Route("GET"),
    "api.patch_segment": Route("PATCH", body=lambda ids: {"name": "renamed by the intruder"}),
    "api.delete_segment": Route("DELETE"),
    "api.preview_segment": Route("GET"),
    "api.segment_recipients": Route("GET"),
}

PAGES = {
    "web.home": Route("GET", cross="blind"),
    "web.contact_list": Route("GET", cross="blind"),
    "web.contact_page": Route("GET"),
    "web.edit_contact": Route("POST", body={"email": "changed@intruder.example"}),
    "web.erase_contact": Route("POST", body={"confirm": "yes"}),
    "web.resubscribe_contact": Route("POST", body={"consent": "asked by phone"}),
    "web.unsubscribe_contact": Route("POST", body={}),
    "web.contacts_csv": Route("GET", cross="blind"),
    "web.dedup_page": Route("GET", cross="blind"),
    "web.dedup_apply": Route("POST", body={"to": "email", "confirm": "yes"}, cross="own"),
    "web.dedup_undo": Route("POST", body={"change_id": "{change_id}", "confirm": "yes"}, cross="blind"),
    "web.report": Route("GET"),
    "web.progress": Route("GET"),
    "web.rejected_csv": Route("GET"),
    "web.external_id": Route("GET"),
    "web.fields": Route("GET"),
    "web.file_settings": Route("GET"),
    "web.options": Route("GET"),
    "web.review": Route("GET"),
    "web.upload": Route("GET", cross="blind"),
    "web.mailing_list": Route("GET", cross="blind"),
    "web.mailing_page": Route("GET"),
    "web.ledger_csv": Route("GET"),
    "web.mailing_csv": Route("GET"),
    "web.new_mailing": Route("POST", cross="blind", body={"name": "m", "include": "{segment_id}"}),
    "web.edit_mailing": Route("GET"),
    "web.copy_mailing": Route("POST", body={}),
    "web.delete_mailing": Route("POST", body={"confirm": "yes"}),
    "web.preview_form": Route("POST", cross="own"),
    "web.import_list": Route("GET", cross="blind"),
    "web.segment_list": Route("GET", cross="blind"),
    "web.segment_page": Route("GET"),
    "web.segment_csv": Route("GET"),
    # The form's values are formatted with the ids: the rule tree's braces doubled.
    "web.edit_segment": Route("POST", body={"name": "renamed by the intruder", "rules": '{{"all": []}}'}),
    "web.delete_segment": Route("POST", body={"confirm": "yes"}),
    "web.new_segment": Route("GET", cross="blind"),
    "web.preview_rules": Route("POST", cross="own"),
    "web.sign_out": Route("POST", cross="own"),
    "web.set_language": Route("POST", body={"language": "nl"}, cross="own"),
}
# Open to anyone, and holding nobody's data: the sign-in form, the probes, the style sheets.
OPEN = {"web.sign_in", "probes.healthz", "probes.readyz", "probes.metrics_text", "static"}
# Pages whose drafts and ids are checked by their GET; their POST shares the same ownership check.
POSTED_TOO = {"web.external_id", "web.fields", "web.file_settings", "web.options", "web.review",
              "web.edit_contact", "web.erase_contact", "web.resubscribe_contact", "web.upload",
              "web.new_mailing", "web.new_segment", "web.sign_in", "web.edit_mailing"}


def _rules(world: World) -> dict[str, Any]:
    return {rule.endpoint: rule for rule in world.app.url_map.iter_rules()}


def _url(world: World, endpoint: str, ids: dict[str, int]) -> str:
    rule = _rules(world)[endpoint]
    return rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}").format(**ids)


def _call(world: World, client, endpoint: str, route: Route, ids: dict[str, int],  # type: ignore[no-untyped-def]
          headers: dict[str, str] | None = None, token: str | None = None):
    options = dict(route.extra)
    body = route.body(ids) if callable(route.body) else route.body
    if endpoint.startswith("api."):
        if body is not None:
            options["data" if "content_type" in options else "json"] = body
    elif route.method == "POST":
        options["data"] = {**{k: v.format(**ids) for k, v in (body or {}).items()}, "csrf_token": token}
    return client.open(_url(world, endpoint, ids), method=route.method, headers=headers or {}, **options)


def _assert_envelope(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.is_json and response.json["error"]["code"] == code, response.data[:300]


def _assert_no_victim_data(response) -> None:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    assert not MARK.search(body), MARK.search(body) and body[max(0, MARK.search(body).start() - 200):][:400]


@pytest.fixture
def unchanged(world: World):  # type: ignore[no-untyped-def]
    """The victim's contacts, ledger and every table's count are as they were after the test."""
    before = (world.snapshot(world.victim.tenant.id), world.counts())
    yield
    assert (world.snapshot(world.victim.tenant.id), world.counts()) == before
    assert world.client.get("/healthz").status_code == 200


def test_every_route_is_in_the_matrix(world: World) -> None:
    listed = set(API) | set(PAGES) | OPEN
    routed = set(_rules(world))
    assert routed - listed == set(), "add the new routes to ROUTES of this module"
    assert listed - routed == set(), "routes listed here that the app no longer has"
    for endpoint, route in API.items():
        rule = _rules(world)[endpoint]
        assert route.method in rule.methods, endpoint
        view = world.app.view_functions[endpoint]
        expected = "public" if route.public else route.scope
        assert getattr(view, "required_scope", "public") == expected, endpoint


API_CASES = [e for e, r in API.items() if not r.public]


@pytest.mark.parametrize("endpoint", API_CASES)
@pytest.mark.parametrize("key", [None, UNKNOWN_KEY], ids=["no key", "unknown key"])
def test_api_without_a_valid_key_is_401(world: World, unchanged, endpoint: str, key: str | None) -> None:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    response = _call(world, world.client, endpoint, API[endpoint], world.victim.ids, headers)
    _assert_envelope(response, 401, "unauthorized")
    _assert_no_victim_data(response)


@pytest.mark.parametrize("endpoint", [e for e in API_CASES if API[e].cross != "own"])
def test_api_with_another_accounts_key_never_shows_the_victims_data(world: World, unchanged,
                                                                     endpoint: str) -> None:
    route = API[endpoint]
    intruder = world.intruder.auth(route.scope or "manage")
    response = _call(world, world.client, endpoint, route, world.victim.ids, intruder)
    if route.cross == "404":
        _assert_envelope(response, 404, "not_found")
    else:
        assert response.status_code < 500, response.data[:300]
    _assert_no_victim_data(response)


WRONG_SCOPES = [(e, s) for e in API_CASES for s in SCOPES
                if API[e].scope is not None and API[e].scope not in GRANTS[s]]


@pytest.mark.parametrize(("endpoint", "scope"), WRONG_SCOPES)
def test_api_with_a_wrong_scope_is_403(world: World, unchanged, endpoint: str, scope: str) -> None:
    victim = world.victim
    response = _call(world, world.client, endpoint, API[endpoint], victim.ids, victim.auth(scope))
    _assert_envelope(response, 403, "forbidden")


def test_the_open_routes_hold_no_accounts_data(world: World, unchanged) -> None:
    for path in ("/sign-in", "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"):
        response = world.client.get(path)
        assert response.status_code == 200, path
        _assert_no_victim_data(response)
        assert "intruder" not in response.get_data(as_text=True)


def _page_cases() -> list[tuple[str, str]]:
    cases = [(e, r.method) for e, r in PAGES.items()]
    return cases + [(e, "POST") for e in sorted(POSTED_TOO) if e in PAGES and PAGES[e].method == "GET"]


def _as_method(route: Route, method: str) -> Route:
    return route if route.method == method else Route(method, route.scope, {}, route.cross)


@pytest.mark.parametrize(("endpoint", "method"), [c for c in _page_cases() if PAGES[c[0]].cross != "own"])
def test_pages_of_another_account_are_404(world: World, unchanged, endpoint: str, method: str) -> None:
    route = _as_method(PAGES[endpoint], method)
    user = world.intruder.user
    token = csrf_token(user.get("/segments/new")) if method == "POST" else None
    response = _call(world, user, endpoint, route, world.victim.ids, token=token)
    if route.cross == "404":
        assert response.status_code in (403, 404), (response.status_code, response.data[:300])
    else:
        assert response.status_code < 500, response.data[:300]
        assert "/sign-in" not in response.headers.get("Location", "")
    _assert_no_victim_data(response)


@pytest.mark.parametrize(("endpoint", "method"), [c for c in _page_cases() if c[0] != "web.home"]
                         + [("web.sign_out", "POST")])
def test_pages_signed_out_redirect_to_sign_in(world: World, unchanged, endpoint: str, method: str) -> None:
    browser = world.app.test_client()
    token = csrf_token(browser.get("/sign-in")) if method == "POST" else None
    route = _as_method(PAGES[endpoint], method)
    response = _call(world, browser, endpoint, route, world.victim.ids, token=token)
    assert response.status_code == 302, (response.status_code, response.data[:300])
    assert response.headers["Location"].startswith("/sign-in"), response.headers["Location"]
    _assert_no_victim_data(response)


def test_the_front_door_signed_out_is_the_sign_in_form(world: World, unchanged) -> None:
    response = world.app.test_client().get("/")
    assert response.status_code == 200 and 'name="password"' in response.get_data(as_text=True)
    _assert_no_victim_data(response)


def _party_sees_its_own(world: World, party: Party) -> None:
    """The matrix's positive control: the owner's key and user do reach the same URLs."""
    for endpoint in ("api.get_contact", "api.get_mailing", "api.rejected_csv", "api.mailing_ledger"):
        response = world.client.get(_url(world, endpoint, party.ids), headers=party.auth())
        assert response.status_code == 200 and party.name in response.get_data(as_text=True), endpoint
    for endpoint in ("web.contact_page", "web.mailing_page", "web.segment_page", "web.report",
                     "web.file_settings"):
        response = party.user.get(_url(world, endpoint, party.ids))
        assert response.status_code == 200, (endpoint, response.status_code)


def test_the_owner_reaches_what_the_intruder_cannot(world: World, unchanged) -> None:
    _party_sees_its_own(world, world.victim)
