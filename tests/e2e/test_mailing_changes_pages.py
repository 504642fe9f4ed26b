"""Mailings composed, changed, copied and deleted in a browser, with the live preview while composing,
the send list with the link's IDs, and a mailing fixed once checked; the imports page newest first,
real imports numbered and checks not."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import Page, expect

from tests.e2e.test_segments_pages import BY_CRM, FAMILY, expect_preview, family_tenant


def _check(page: Page, segment: str, where: str) -> None:
    page.locator(f"#{where}-segments").get_by_label(segment).check()


def test_compose_change_copy_and_delete_a_mailing(page, live_server, client, make_tenant, make_user,
                                                  sign_in, post_import, screenshot):
    tenant = family_tenant(make_tenant, post_import)
    for name, rules in (("Everyone", {"all": []}),
                        ("Delft", {"field": "city", "op": "eq", "value": "Delft"})):
        assert client.post("/api/v1/segments", json={"name": name, "rules": rules},
                           headers=tenant.auth()).status_code == 201
    sign_in(make_user(tenant.id, "manager@family.example"))

    # Composing: the preview follows every choice.
    page.goto(f"{live_server}/mailings/new")
    expect(page.locator("#mailing-preview-error")).to_have_text("Choose at least one segment to send to.")
    page.get_by_label("Name", exact=True).fill("Spring")
    _check(page, "Everyone", "include")
    expect_preview(page, contacts=6, addresses=3, recipients=3, collapsed=3)
    expect(page.locator("#mailing-preview-error")).to_be_hidden()
    _check(page, "Delft", "exclude")
    expect_preview(page, contacts=4, recipients=2)
    page.get_by_label("Send each contact its own copy").check()
    expect_preview(page, contacts=4, recipients=4, collapsed=0)
    screenshot("composing")
    page.get_by_label("Send each contact its own copy").uncheck()
    expect_preview(page, recipients=2)
    page.get_by_role("button", name="Create the mailing").click()
    expect(page.get_by_role("heading", name="Spring")).to_be_visible()
    mailing = int(re.search(r"/mailings/(\d+)$", page.url).group(1))

    # The send list names each recipient's ID in the link, on the page and in the download.
    rows = page.locator("#send-list tbody tr")
    expect(rows).to_have_count(2)
    piet = page.locator("#send-list tr", has_text="piet@example.nl")
    expect(piet.locator('[data-link="crm"]')).to_have_text("K4")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the send list (CSV)").click()
    listed = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert {row["email"]: row["crm"] for row in listed} == {"jan@home.nl": "K1", "piet@example.nl": "K4"}

    # Changing it: the form holds its settings; Delft is no longer left out.
    page.get_by_role("link", name="Change", exact=True).click()
    expect(page.locator("#exclude-segments").get_by_label("Delft")).to_be_checked()
    expect_preview(page, recipients=2)
    page.locator("#exclude-segments").get_by_label("Delft").uncheck()
    expect_preview(page, recipients=3)
    page.get_by_label("Name", exact=True).fill("Spring sale")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_role("heading", name="Spring sale")).to_be_visible()
    expect(page.locator('#mailing-preview [data-preview-count="recipients"]')).to_have_text("3")
    assert client.get(f"/api/v1/mailings/{mailing}", headers=tenant.auth()).json["exclude"] == []

    # A copy, then deleted after its confirmation.
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("heading", name="Copy of Spring sale")).to_be_visible()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete the mailing").click()
    expect(page.locator("#mailings")).to_contain_text("Spring sale")
    expect(page.locator("#mailings")).not_to_contain_text("Copy of")

    # Once the mailing system's check has cleared someone, the mailing is fixed.
    contact = int(listed[0]["id"])
    checked = client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [contact]},
                          headers=tenant.auth("send"))
    assert checked.json["results"][0]["verdict"] == "send"
    page.goto(f"{live_server}/mailings/{mailing}")
    expect(page.locator("#mailing-fixed")).to_be_visible()
    expect(page.get_by_role("link", name="Change", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Delete…")).to_have_count(0)
    for path in (f"/mailings/{mailing}/edit", f"/mailings/{mailing}/delete"):
        response = page.goto(live_server + path)
        assert response is not None and response.status == 409, path
        expect(page.get_by_role("heading", name="This mailing can no longer change")).to_be_visible()
    screenshot("fixed")
    page.get_by_role("button", name="Copy the mailing").click()
    expect(page.get_by_role("heading", name="Copy of Spring sale")).to_be_visible()
    expect(page.get_by_role("link", name="Change", exact=True)).to_be_visible()  # the copy may change


def test_the_imports_page_lists_every_import_newest_first(page, live_server, make_tenant, make_user,
                                                          sign_in, post_import, screenshot):
    tenant = make_tenant("family", "external_id", links={"crm": None},
                         fields={"first_name": "text", "city": "text"})
    for name, settings in (("first.csv", BY_CRM), ("check.csv", {**BY_CRM, "dry_run": True}),
                           ("second.csv", BY_CRM)):
        assert post_import(tenant, FAMILY, settings, filename=name).json["status"] == "succeeded"
    sign_in(make_user(tenant.id, "manager@family.example"))
    expect(page.locator("#recent-imports tbody tr")).to_have_count(2)  # the home page: real ones only
    expect(page.locator("#recent-imports")).to_contain_text("Import 2")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    rows = page.locator("#imports tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("td").first).to_have_text("Import 2")
    expect(rows.nth(1).locator("td").first).to_have_text("Check of check.csv check only: nothing changed")
    expect(rows.nth(2).locator("td").first).to_have_text("Import 1")
    expect(rows.nth(2).locator('[data-count="created"]')).to_have_text("6")
    expect(rows.nth(0).locator('[data-count="unchanged"]')).to_have_text("6")
    screenshot("imports")
    rows.nth(0).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Import 2")).to_be_visible()
