"""Mailings in a browser: with and without the opt-in on an external-ID account with a shared
address, the form's errors, the ledger counts and downloads; and the segment and mailing pages
kept to signed-in users of their own account, their forms to their CSRF token."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import Page, expect

from tests.e2e.test_segments_pages import family_tenant


def _count(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#mailing-preview [data-preview-count="{key}"]')


def _new_mailing(page: Page, name: str, *, opt_in: bool) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mailings").click()
    page.get_by_role("link", name="New mailing").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.locator("#include-segments").get_by_label("Everyone").check()
    page.locator("#exclude-segments").get_by_label("Delft").check()
    personalize = page.locator("#personalize-box")
    expect(personalize).to_be_hidden()
    if opt_in:
        page.get_by_label("Send each contact its own copy").check()
        expect(personalize).to_be_visible()
    page.get_by_role("button", name="Create the mailing").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_a_mailing_with_and_without_the_opt_in(page, live_server, client, make_tenant, make_user, sign_in,
                                               post_import, screenshot):
    tenant = family_tenant(make_tenant, post_import)
    for name, rules in (("Everyone", {"all": []}), ("Delft", {"all": [{"field": "city", "op": "eq",
                                                                       "value": "delft"}]})):
        assert client.post("/api/v1/segments", json={"name": name, "rules": rules},
                           headers=tenant.auth()).status_code == 201
    sign_in(make_user(tenant.id, "manager@family.example"))

    # The form's errors are shown on it.
    page.goto(f"{live_server}/mailings/new")
    expect(page.get_by_text("two family members sharing jan@home.nl would each get a copy")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Newsletter")
    page.get_by_role("button", name="Create the mailing").click()
    expect(page.get_by_role("alert")).to_have_text("Choose at least one segment to send to.")
    page.locator("#include-segments").get_by_label("Everyone").check()
    page.get_by_label("Send each contact its own copy").check()
    page.get_by_label("first_name", exact=True).check()
    page.get_by_label("Send each contact its own copy").uncheck()
    page.get_by_role("button", name="Create the mailing").click()
    expect(page.get_by_role("alert")).to_contain_text("turn on the opt-in")
    expect(page.get_by_label("first_name", exact=True)).to_be_checked()  # in sight, to correct
    screenshot("form-error")

    # Without the opt-in: jan@home.nl (three contacts) and piet@example.nl, once each.
    _new_mailing(page, "Newsletter", opt_in=False)
    expect(_count(page, "contacts")).to_have_text("4")
    expect(_count(page, "recipients")).to_have_text("2")
    expect(_count(page, "collapsed")).to_have_text("2")
    expect(page.locator("#mailing-opt-in")).to_have_text("one copy per address")
    expect(page.locator("#mailing-preview g[data-bucket='3']")).to_have_attribute("data-count", "1")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the send list (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert sorted(row["email"] for row in rows) == ["jan@home.nl", "piet@example.nl"]

    # The mailing system checks a batch and confirms one send; the page counts the ledger.
    mailing_id = int(re.search(r"/mailings/(\d+)$", page.url).group(1))
    ids = [int(row["id"]) for row in rows]
    checked = client.post(f"/api/v1/mailings/{mailing_id}/check", json={"contacts": ids},
                          headers=tenant.auth("send"))
    assert [r["verdict"] for r in checked.json["results"]] == ["send", "send"]
    client.post(f"/api/v1/mailings/{mailing_id}/confirm", json={"contacts": ids[:1]},
                headers=tenant.auth("send"))
    page.reload()
    expect(page.locator('#ledger tr[data-ledger="claimed"] td.num')).to_have_text("1")
    expect(page.locator('#ledger tr[data-ledger="sent"] td.num')).to_have_text("1")
    expect(page.locator('#ledger tr[data-ledger="released"] td.num')).to_have_text("0")
    expect(page.locator("#claimed-count")).to_have_text("2")
    screenshot("without-opt-in")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the ledger (CSV)").click()
    ledger = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert sorted(row["state"] for row in ledger) == ["claimed", "sent"]

    # With the opt-in: every contact at jan@home.nl gets its own copy.
    _new_mailing(page, "Family copies", opt_in=True)
    expect(_count(page, "contacts")).to_have_text("4")
    expect(_count(page, "recipients")).to_have_text("4")
    expect(_count(page, "collapsed")).to_have_text("0")
    expect(page.locator("#mailing-opt-in")).to_have_text("each contact gets its own copy")
    screenshot("with-opt-in")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mailings").click()
    expect(page.locator("#mailings")).to_contain_text("Family copies")
    expect(page.locator("#mailings")).to_contain_text("a copy per contact")


def test_segment_and_mailing_pages_are_private(page, live_server, client, make_tenant, make_user, sign_in,
                                               screenshot):
    mine, theirs = make_tenant("acme", "email"), make_tenant("other", "email")
    segment = client.post("/api/v1/segments", json={"name": "theirs", "rules": {"all": []}},
                          headers=theirs.auth()).json["id"]
    mailing = client.post("/api/v1/mailings", json={"name": "theirs", "include": [segment]},
                          headers=theirs.auth()).json["id"]
    paths = [f"/segments/{segment}", f"/segments/{segment}/recipients.csv", f"/mailings/{mailing}",
             f"/mailings/{mailing}/recipients.csv", f"/mailings/{mailing}/ledger.csv"]
    for path in ("/segments", "/segments/new", "/mailings", "/mailings/new", *paths):
        page.goto(live_server + path)
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    sign_in(make_user(mine.id, "anna@acme.example"))
    for path in paths:
        response = page.goto(live_server + path)
        assert response is not None and response.status == 404, path
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    # Forms without their token are refused.
    for path, button in (("/segments/new", "Save the segment"), ("/mailings/new", "Create the mailing")):
        page.goto(live_server + path)
        page.get_by_label("Name", exact=True).fill("no token")
        page.evaluate("document.querySelectorAll('main input[name=csrf_token]').forEach(e => e.remove())")
        with page.expect_response(lambda r: r.request.method == "POST") as refused:
            page.get_by_role("button", name=button).click()
        assert refused.value.status == 400
        expect(page.get_by_role("heading", name="The form has expired")).to_be_visible()
    screenshot("refused")
    assert client.get("/api/v1/segments", headers=mine.auth()).json["segments"] == []
    assert client.get("/api/v1/mailings", headers=mine.auth()).json["mailings"] == []
