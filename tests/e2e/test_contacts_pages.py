"""The contact pages in a browser: search by address and by ID, filter by status, page through;
open a contact and see its history; edit with an error, then for real; unsubscribe; re-subscribe
with the consent it asks for; erase after the confirmation; the export's download."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Page, expect
from sqlalchemy import text

ROWS = [["nr", "email", "first_name", "age"],
        ["K1", "jan@home.nl", "Jan", "41"],
        ["K2", "JAN@home.nl", "Anna", "39"],
        ["K3", "piet@example.nl", "Piet", ""]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "age": "age"}}


def family_tenant(make_tenant, import_rows, extra: int = 0):  # type: ignore[no-untyped-def]
    """An external-ID account: two contacts at jan@home.nl, Piet, and `extra` more."""
    tenant = make_tenant("family", "external_id", links={"crm": r"K\d+"},
                         fields={"first_name": "text", "age": "number"})
    more = [[f"K{n}", f"person{n:03}@example.nl", f"Person {n}", ""] for n in range(10, 10 + extra)]
    import_rows(tenant, ROWS + more, BY_CRM)
    return tenant


def listed(page: Page) -> list[str]:
    return page.locator("#contacts tbody tr td:first-child a").all_inner_texts()


def open_contacts(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()


def test_search_by_address_and_id_filter_by_status_and_page_through(
        page, live_server, engine, make_tenant, make_user, sign_in, import_rows, screenshot):
    tenant = family_tenant(make_tenant, import_rows, extra=60)
    with engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET status = 'unsubscribed' WHERE email = 'piet@example.nl'"))
    sign_in(make_user(tenant.id, "manager@family.example"))
    open_contacts(page)
    expect(page.locator('[data-count="all"]')).to_have_text("63")
    expect(page.locator('[data-count="unsubscribed"]')).to_have_text("1")
    assert len(listed(page)) == 50
    screenshot("list")

    page.get_by_role("link", name="Next page").click()  # in address order
    expect(page.locator("#contacts tbody tr")).to_have_count(13)
    assert listed(page)[-2:] == ["person069@example.nl", "piet@example.nl"]
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="Previous page").click()
    expect(page.locator("#contacts tbody tr")).to_have_count(50)
    assert listed(page)[:3] == ["jan@home.nl", "JAN@home.nl", "person010@example.nl"]

    page.get_by_label("E-mail address or ID").fill("Jan@Home.nl")
    page.get_by_label("E-mail address or ID").press("Enter")
    expect(page.get_by_role("heading", name="Contacts at the address “Jan@Home.nl”")).to_be_visible()
    assert listed(page) == ["jan@home.nl", "JAN@home.nl"]

    page.get_by_label("E-mail address or ID").fill("K3")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Contacts with the ID “K3” in a linked system")).to_be_visible()
    assert listed(page) == ["piet@example.nl"]
    expect(page.locator("#contacts .status")).to_have_text("Unsubscribed")

    page.get_by_label("E-mail address or ID").fill("")
    page.get_by_label("Status", exact=True).select_option("unsubscribed")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="All contacts · unsubscribed only")).to_be_visible()
    assert listed(page) == ["piet@example.nl"]
    page.get_by_label("Status", exact=True).select_option("bounced")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#no-contacts")).to_have_text("No contact matches.")
    screenshot("filtered")


def test_edit_unsubscribe_resubscribe_and_erase_a_contact(page, live_server, engine, make_tenant, make_user,
                                                          sign_in, import_rows, screenshot):
    tenant = family_tenant(make_tenant, import_rows)
    sign_in(make_user(tenant.id, "manager@family.example"))
    open_contacts(page)
    page.get_by_role("link", name="piet@example.nl").click()
    expect(page.get_by_role("heading", name="piet@example.nl")).to_be_visible()
    expect(page.locator("#contact-ids")).to_contain_text("K3")
    expect(page.locator("#no-history")).to_be_visible()

    # An error is named on the form, next to its field; nothing is saved.
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("textbox", name="age").fill("very old")
    page.get_by_label("E-mail address").fill("Piet.Jansen@Example.nl")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("age: 'very old' is not a valid number.")
    expect(page.get_by_role("textbox", name="age")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-field-age")).to_contain_text("'very old'")
    expect(page.get_by_label("E-mail address")).to_have_value("Piet.Jansen@Example.nl")  # kept as typed
    screenshot("edit-error")
    # An ID of another contact is a conflict said in words.
    page.get_by_role("textbox", name="age").fill("62")
    page.get_by_label("CRM").fill("K1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("An ID belongs to one contact")
    page.get_by_label("CRM").fill("K30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("The contact is saved.")
    expect(page.get_by_role("heading", name="Piet.Jansen@example.nl")).to_be_visible()
    expect(page.locator('[data-field="age"] dd')).to_have_text("62")
    expect(page.locator('#contact-ids [data-link="crm"]')).to_contain_text("K30")

    page.get_by_label("Note").fill("asked on the phone")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("status")).to_contain_text("is unsubscribed")
    history = page.locator("#status-history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Active → Unsubscribed")
    expect(history.first).to_contain_text("by hand")
    expect(history.first).to_contain_text("asked on the phone")

    page.get_by_role("link", name="Re-subscribe…").click()
    consent = page.get_by_label("How did the person give consent again?")
    consent.fill("   ")
    page.get_by_role("button", name="Re-subscribe").click()
    expect(page.get_by_role("alert")).to_contain_text("Say how the person gave consent again")
    consent.fill("Subscribed again on the website form")
    page.get_by_role("button", name="Re-subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("subscribed again")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Unsubscribed → Active")
    expect(history.first).to_contain_text("Subscribed again on the website form")
    screenshot("history")

    page.get_by_role("link", name="Erase…").click()
    consequences = page.locator("#erase-consequences")
    expect(consequences).to_contain_text("its fields, its IDs in linked systems and its status history")
    expect(consequences).to_contain_text("cannot be imported or entered again until support staff lift")
    page.get_by_role("button", name="Erase the contact").click()  # the box is required: nothing happens
    expect(page.get_by_role("heading", name="Erase Piet.Jansen@example.nl?")).to_be_visible()
    page.get_by_label("Erase Piet.Jansen@example.nl and everything about this contact").check()
    screenshot("erase")
    page.get_by_role("button", name="Erase the contact").click()
    expect(page.get_by_role("status")).to_contain_text("is erased")
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    assert listed(page) == ["jan@home.nl", "JAN@home.nl"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contacts WHERE address_key = 'piet.jansen@example.nl'"
                                 )).scalar() == 0

    with page.expect_download() as download:
        page.get_by_role("link", name="Export all contacts (CSV)").click()
    content = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [(row["email"], row["status"]) for row in rows] == [("jan@home.nl", "active"),
                                                               ("JAN@home.nl", "active")]
    assert [row["first_name"] for row in rows] == ["Jan", "Anna"]


def test_a_bounced_contact_needs_support_staff_to_resubscribe(page, live_server, engine, make_tenant,
                                                              make_user, sign_in, import_rows):
    tenant = family_tenant(make_tenant, import_rows)
    with engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET status = 'bounced' WHERE email = 'piet@example.nl'"))
    sign_in(make_user(tenant.id, "manager@family.example"))
    open_contacts(page)
    page.get_by_role("link", name="piet@example.nl").click()
    expect(page.locator("#contact-status")).to_contain_text("Only support staff can re-subscribe")
    expect(page.get_by_role("link", name="Re-subscribe…")).to_have_count(0)
