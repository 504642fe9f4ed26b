"""Sign-in, one account per user, and CSRF protection, in a browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_pages_require_sign_in(page, live_server, make_tenant, make_user):
    tenant = make_tenant("acme", "email")
    user = make_user(tenant.id, "anna@acme.example")
    for path in ("/imports/new", "/imports/1", "/imports/1/progress", "/imports/drafts/1/file"):
        page.goto(live_server + path)
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(live_server + "/")  # the front door is the sign-in form
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Recent imports")
    page.goto(live_server + "/imports/drafts/1/file")

    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")

    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    # Back where the user was going, signed in.
    expect(page).to_have_url(f"{live_server}/imports/drafts/1/file")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", name="acme")).to_be_visible()
    expect(page.get_by_text("By e-mail address.", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(live_server + "/imports/new")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_a_user_cannot_open_another_accounts_import(page, live_server, make_tenant, make_user, sign_in,
                                                    post_import):
    mine = make_tenant("acme", "email")
    theirs = make_tenant("other", "email")
    their_import = post_import(theirs, [["email"], ["piet@example.nl"]], {"mapping": {"email": "email"}})
    my_import = post_import(mine, [["email"], ["anna@example.nl"]], {"mapping": {"email": "email"}})
    sign_in(make_user(mine.id, "anna@acme.example"))

    response = page.goto(f"{live_server}/imports/{my_import.json['id']}")
    assert response is not None and response.status == 200
    expect(page.locator("#import-status")).to_have_text("succeeded")
    for path in (f"/imports/{their_import.json['id']}", f"/imports/{their_import.json['id']}/progress",
                 f"/imports/{their_import.json['id']}/rejected.csv"):
        response = page.goto(live_server + path)
        assert response is not None and response.status == 404, path
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("piet@example.nl")


def test_a_form_without_its_csrf_token_is_refused(page, live_server, make_tenant, make_user, sign_in,
                                                  screenshot):
    tenant = make_tenant("acme", "email")
    sign_in(make_user(tenant.id, "anna@acme.example"))
    # The sign-out form, without its token: refused, and the user stays signed in.
    page.evaluate("document.querySelector('form[action=\"/sign-out\"] input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/sign-out")) as refused:
        page.get_by_role("button", name="Sign out").click()
    assert refused.value.status == 400
    expect(page.get_by_role("heading", name="The form has expired")).to_be_visible()
    screenshot("refused")
    # A cross-site post carries the session cookie at most, never the token.
    response = page.request.post(f"{live_server}/imports/new", multipart={"file": {
        "name": "a.csv", "mimeType": "text/csv", "buffer": b"email\r\na@example.nl\r\n"}})
    assert response.status == 400
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", name="acme")).to_be_visible()
