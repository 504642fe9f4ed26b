"""Errors as a person meets them in a browser: a styled page, never Werkzeug's plain page or JSON;
and as API clients and the command line meet the same domain errors."""

from __future__ import annotations

import pytest
from page_helpers import signed_in

from service.errors import Busy, Conflict, DomainError, Forbidden, InvalidInput, NotAuthenticated, NotFound
from service.http_errors import status_of


def _is_error_page(response, status: int, title: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html and 'class="topbar"' in html, html[:500]


def test_an_unknown_page_is_the_styled_404(client):
    _is_error_page(client.get("/no/such/page"), 404, "Not found")


def test_another_accounts_segment_is_the_styled_404(app, engine, client, make_tenant):
    theirs = make_tenant("theirs")
    segment = client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                          headers=theirs.auth()).json["id"]
    mine = signed_in(app, engine, make_tenant("mine").id, "anna@mine.example")
    _is_error_page(mine.get(f"/segments/{segment}"), 404, "Not found")
    _is_error_page(mine.get(f"/mailings/{segment}"), 404, "Not found")
    _is_error_page(mine.get("/imports/12345"), 404, "Not found")


def test_a_wrong_method_on_a_page_is_the_styled_405(app, engine, make_tenant):
    web = signed_in(app, engine, make_tenant("mine").id, "anna@mine.example")
    _is_error_page(web.delete("/segments"), 405, "This page cannot do that")


def test_an_unexpected_error_on_a_page_is_the_styled_500_and_in_json_for_the_api(app):
    def fails() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/a-page-that-fails", view_func=fails)
    app.add_url_rule("/api/v1/an-endpoint-that-fails", view_func=fails)
    client = app.test_client()
    response = client.get("/a-page-that-fails")
    _is_error_page(response, 500, "Something went wrong")
    assert b"a bug" not in response.data and b"Traceback" not in response.data
    response = client.get("/api/v1/an-endpoint-that-fails")
    assert response.status_code == 500
    assert response.json == {"error": {"code": "internal_error",
                                       "message": "an unexpected error occurred; it has been logged"}}


def test_a_domain_error_raised_on_a_page_says_its_message_on_the_error_page(app):
    def busy() -> str:
        raise Conflict("this account has a segment named 'x' already")

    app.add_url_rule("/a-page-that-conflicts", view_func=busy)
    response = app.test_client().get("/a-page-that-conflicts")
    assert response.status_code == 409
    assert "This account has a segment named &#39;x&#39; already." in response.get_data(as_text=True)


@pytest.mark.parametrize(("error", "status"), [
    (InvalidInput("x"), 400), (NotAuthenticated("x"), 401), (Forbidden("x"), 403), (NotFound("x"), 404),
    (Conflict("x", code="idempotency_conflict"), 409), (Busy("x"), 503), (DomainError("x"), 400),
])
def test_each_domain_error_has_its_status(error, status):
    assert status_of(error) == status


def test_the_command_line_says_a_domain_error_and_exits_non_zero(cli, make_tenant):
    make_tenant("acme")
    result = cli("accounts", "create", "acme")
    assert result.exit_code == 1
    assert "Error: an account named 'acme' exists already" in result.output
