"""The segment builder in a browser: nested conditions, the live preview checked against the
API's count of the same rules, an error shown next to the builder, saving, the send list."""

from __future__ import annotations

import csv
import io
import json

from playwright.sync_api import Page, expect

FAMILY = [["nr", "email", "first_name", "city"],
          ["K1", "jan@home.nl", "Jan", "Utrecht"],
          ["K2", "jan@home.nl", "Anna", "Utrecht"],
          ["K3", "jan@home.nl", "Anna", "Utrecht"],
          ["K4", "piet@example.nl", "Piet", "Utrecht"],
          ["K5", "kees@example.nl", "Kees", "Delft"],
          ["K6", "kees@example.nl", "", "Delft"]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "city": "city"}}


def family_tenant(make_tenant, post_import):  # type: ignore[no-untyped-def]
    """An external-ID account: three at jan@home.nl, one at piet's, two at kees's."""
    tenant = make_tenant("family", "external_id", links={"crm": None},
                         fields={"first_name": "text", "city": "text"})
    response = post_import(tenant, FAMILY, BY_CRM)
    assert response.json["status"] == "succeeded", response.json
    return tenant


def expect_preview(page: Page, **counts: int) -> None:
    for key, value in counts.items():
        expect(page.locator(f'#live-preview [data-preview-count="{key}"]')).to_have_text(str(value))


def test_build_a_segment_with_nested_conditions(page, live_server, client, make_tenant, make_user,
                                                sign_in, post_import, screenshot):
    tenant = family_tenant(make_tenant, post_import)
    sign_in(make_user(tenant.id, "manager@family.example"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    expect_preview(page, contacts=6, addresses=3, recipients=3, collapsed=3, excluded=0)
    page.get_by_label("Name", exact=True).fill("Utrecht, Anna or not at home")

    builder = page.locator("#rule-builder")
    builder.get_by_role("button", name="Add a condition").click()
    first = builder.locator(".rule-condition").nth(0)
    first.get_by_label("Field").select_option("city")
    expect(first.get_by_label("Test")).to_have_value("eq")
    first.get_by_label("Value").fill("utrecht")
    expect_preview(page, contacts=4, addresses=2, recipients=2, collapsed=2)

    # A nested group: any of (first name is Anna, not at home.nl)
    builder.get_by_role("button", name="Add a group").last.click()
    group = builder.locator(".rule-group .rule-group")
    expect(group.get_by_label("Contacts that match")).to_have_value("any")
    group.locator(".rule-condition").nth(0).get_by_label("Value").fill("anna")
    group.get_by_role("button", name="Add a condition").click()
    second = group.locator(".rule-condition").nth(1)
    second.get_by_label("Field").select_option("email_domain")
    second.get_by_label("Test").select_option("ne")
    second.get_by_label("Value").fill("home.nl")
    expect_preview(page, contacts=3, addresses=2, recipients=2, collapsed=1)
    chart = page.locator("#live-preview [data-preview-chart] g[data-bucket='2']")
    expect(chart).to_have_attribute("data-count", "1")

    # The numbers are the API's for the same rules, saved.
    rules = json.loads(page.locator("#rules").input_value())
    assert rules == {"all": [{"field": "city", "op": "eq", "value": "utrecht"},
                             {"any": [{"field": "first_name", "op": "eq", "value": "anna"},
                                      {"field": "email_domain", "op": "ne", "value": "home.nl"}]}]}
    saved = client.post("/api/v1/segments", json={"name": "check", "rules": rules}, headers=tenant.auth())
    api = client.get(f"/api/v1/segments/{saved.json['id']}/preview", headers=tenant.auth()).json
    expect_preview(page, **{key: api[key] for key in ("contacts", "addresses", "recipients", "collapsed")})
    page.get_by_label("Count a copy for each contact at a shared address").check()
    expect_preview(page, contacts=3, recipients=3, collapsed=0)
    page.get_by_label("Count a copy for each contact at a shared address").uncheck()
    expect_preview(page, recipients=2)
    screenshot("builder")

    # A wrong value is named next to the builder, and the condition marked.
    group.locator(":scope > .group-actions").get_by_role("button", name="Add a condition").click()
    third = group.locator(".rule-condition").nth(2)
    third.get_by_label("Field").select_option("created_at")
    # Waiting for its value, the new condition leaves no one out (and is no error yet).
    expect(third.locator(".no-value")).to_be_visible()
    expect_preview(page, contacts=3, recipients=2)
    expect(page.locator("#rule-error")).to_be_hidden()
    third.get_by_label("Test").select_option("between")
    third.get_by_label("From").fill("2026-12-31")
    third.get_by_label("To").fill("2026-01-01")
    expect(page.locator("#rule-error")).to_contain_text("low not above high")
    expect(third).to_have_class("rule-condition invalid")
    screenshot("error")
    third.get_by_role("button", name="Remove this condition").click()
    expect(page.locator("#rule-error")).to_be_hidden()
    expect_preview(page, contacts=3, recipients=2)

    page.get_by_role("button", name="Save the segment").click()
    expect(page.get_by_role("heading", name="Utrecht, Anna or not at home")).to_be_visible()
    expect(page.locator("#segment-rules")).to_contain_text("E-mail domain is not home.nl")
    expect(page.locator('#segment-preview [data-preview-count="recipients"]')).to_have_text("2")
    screenshot("saved")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the send list (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert sorted(row["email"] for row in rows) == ["jan@home.nl", "piet@example.nl"]
    assert {row["first_name"] for row in rows} == {"Anna", "Piet"}

    # The download follows the choices as they are, before the preview is updated.
    page.get_by_label("Count a copy for each contact at a shared address").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the send list (CSV)").click()
    assert len(download.value.path().read_text(encoding="utf-8-sig").splitlines()) == 1 + 3
    page.get_by_role("button", name="Update the preview").click()
    expect(page.locator('#segment-preview [data-preview-count="recipients"]')).to_have_text("3")
    expect(page.get_by_label("Count a copy for each contact at a shared address")).to_be_checked()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    expect(page.locator("#segments")).to_contain_text("Utrecht, Anna or not at home")
