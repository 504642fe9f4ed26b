"""A segment by age in a browser: "18 or older" built with the years operator, saved, shown in
words, renamed and changed, then deleted after the confirmation."""

from __future__ import annotations

from datetime import UTC, date, datetime

from playwright.sync_api import Page, expect

from segments.rules import years_before
from tests.e2e.test_segments_pages import expect_preview


def _born(years: int, days_later: int = 0) -> str:
    """The birth date of someone exactly `years` old today, or `days_later` days younger."""
    day = years_before(datetime.now(UTC).date(), years)
    return date.fromordinal(day.toordinal() + days_later).isoformat()


def test_an_age_segment_renamed_changed_and_deleted(page: Page, live_server, make_tenant, make_user,
                                                    sign_in, post_import, screenshot):
    tenant = make_tenant("ages", fields={"city": "text", "born": "date"})
    rows = [["email", "city", "born"], ["eighteen@example.nl", "Utrecht", _born(18)],
            ["almost@example.nl", "Utrecht", _born(18, 1)], ["forty@example.nl", "Delft", _born(40)]]
    imported = post_import(tenant, rows, {"match": {"by": "email"},
                                          "mapping": {"email": "email", "city": "city", "born": "born"}})
    assert imported.json["status"] == "succeeded", imported.json
    sign_in(make_user(tenant.id, "manager@ages.example"))
    page.goto(f"{live_server}/segments/new")
    expect_preview(page, contacts=3)
    page.get_by_label("Name", exact=True).fill("Adults")

    # A new condition waits for its value: the preview stays at everyone.
    builder = page.locator("#rule-builder")
    builder.get_by_role("button", name="Add a condition").click()
    condition = builder.locator(".rule-condition").nth(0)
    expect(condition.locator(".no-value")).to_be_visible()
    expect_preview(page, contacts=3)
    condition.get_by_label("Field").select_option("born")
    condition.get_by_label("Test").select_option("more_than_years_ago")
    condition.get_by_label("Years").fill("18")
    expect(condition.locator(".no-value")).to_be_hidden()
    expect_preview(page, contacts=2)  # 18 today counts; 18 tomorrow does not
    screenshot("built")
    page.get_by_role("button", name="Save the segment").click()
    expect(page.get_by_role("heading", name="Adults")).to_be_visible()
    expect(page.locator("#segment-rules")).to_contain_text("born at least 18 years ago (18 or older)")
    expect(page.locator('#segment-preview [data-preview-count="contacts"]')).to_have_text("2")
    screenshot("saved")

    # Rename and change: the builder opens on the saved conditions.
    page.locator("#segment-edit").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Adults")
    condition = page.locator("#rule-builder .rule-condition").nth(0)
    expect(condition.get_by_label("Years")).to_have_value("18")
    page.get_by_label("Name", exact=True).fill("Over thirty")
    condition.get_by_label("Years").fill("30")
    expect_preview(page, contacts=1)
    screenshot("changing")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_role("heading", name="Over thirty")).to_be_visible()
    expect(page.locator("#segment-rules")).to_contain_text("born at least 30 years ago (30 or older)")
    expect(page.locator('#segment-preview [data-preview-count="contacts"]')).to_have_text("1")

    # Delete, once confirmed.
    page.locator("#segment-delete").click()
    expect(page.get_by_role("heading", name="Delete segment Over thirty?")).to_be_visible()
    screenshot("delete")
    page.get_by_label("Delete the segment Over thirty").check()
    page.get_by_role("button", name="Delete the segment").click()
    expect(page.get_by_role("status")).to_have_text("Segment “Over thirty” is deleted.")
    expect(page.get_by_text("No segments yet.")).to_be_visible()
    screenshot("deleted")
