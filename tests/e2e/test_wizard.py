"""The import wizard in a browser: a Dutch Excel export (`;`, Windows-1252, day-first dates)
matched by customer number, from the upload to the report and its rejected rows."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Page, expect

DUTCH_EXPORT = (
    "KlantNr;E-mail;Voornaam;Achternaam;Geboortedatum;Plaats\r\n"
    "K1;sanne@example.nl;Sanne;Jansen;31-12-1999;Zoë-dorp\r\n"  # known: updated
    "K2;piet@example.nl;Piet;de Vries;01/02/1985;Utrecht\r\n"  # new
    "K3;Sanne@Example.nl;Daan;Jansen;15-06-2010;Zoë-dorp\r\n"  # new, at Sanne's address
    "K4;geen-adres;Kees;Bakker;01-01-1970;Den Haag\r\n"  # invalid e-mail address
    "K5;joost@example.nl;Joost;Smit;32-01-2000;Café Noord\r\n"  # no such date
).encode("cp1252")


def test_the_whole_wizard_with_a_dutch_excel_file(page, live_server, make_tenant, make_user, sign_in,
                                                  post_import, contacts_of, tmp_path, screenshot):
    tenant = make_tenant("shop", "external_id", links={"crm": None, "webshop": None},
                         fields={"first_name": "text", "birth_date": "date"})
    known = post_import(tenant, [["nr", "email", "first_name"], ["K1", "sanne@example.nl", "S."]],
                        {"match": {"by": "external_id", "link": "crm", "column": "nr"},
                         "mapping": {"email": "email", "first_name": "first_name"}})
    assert known.json["status"] == "succeeded", known.json
    sign_in(make_user(tenant.id, "manager@shop.example"))

    # 1. Upload
    page.get_by_role("link", name="Import a file").first.click()
    upload = tmp_path / "klanten.csv"
    upload.write_bytes(DUTCH_EXPORT)
    page.get_by_label("Contact file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and continue").click()

    # 2. File settings: detected, with a preview that reads the accents right
    expect(page.get_by_role("heading", name="File settings")).to_be_visible()
    expect(page.locator("#detected")).to_contain_text("Windows-1252")
    expect(page.locator("#detected")).to_contain_text("Semicolon")
    expect(page.get_by_label("Encoding")).to_have_value("cp1252")
    expect(page.get_by_label("Delimiter")).to_have_value("semicolon")
    expect(page.get_by_label("The first row holds the column names")).to_be_checked()
    expect(page.locator("#preview thead")).to_contain_text("Geboortedatum")
    expect(page.locator("#preview tbody")).to_contain_text("Zoë-dorp")
    screenshot("2-file")
    page.get_by_role("button", name="Next: options").click()

    # 3. Options: the defaults
    expect(page.get_by_label("Add and update")).to_be_checked()
    expect(page.get_by_label("An empty cell clears the field")).not_to_be_checked()
    page.get_by_role("button", name="Next: external ID").click()

    # 4. External ID: starts at "Not linked", explains both choices
    link = page.get_by_label("Match contacts by")
    expect(link).to_have_value("")
    expect(page.get_by_text("Not linked (match by e-mail address)")).to_be_attached()
    expect(page.get_by_role("note")).to_contain_text("exactly the ID of the linked system")
    expect(page.get_by_role("note")).to_contain_text("several systems")
    link.select_option("crm")
    expect(page.get_by_label("Column that holds this ID")).to_have_value("KlantNr")  # by its name
    screenshot("4-external-id")
    page.get_by_role("button", name="Next: fields").click()

    # 5. Fields: suggested by the Dutch names, a new field for the surname; the town left out
    expect(page.get_by_label("Field for column E-mail")).to_have_value("email")
    expect(page.get_by_label("Field for column Voornaam")).to_have_value("first_name")
    expect(page.get_by_label("Field for column Geboortedatum")).to_have_value("birth_date")
    expect(page.get_by_label("Field for column Achternaam")).to_have_value("__new__")
    expect(page.locator("#new_name_3")).to_have_value("last_name")
    expect(page.get_by_label("Field for column Plaats")).to_have_value("__new__")
    page.get_by_label("Field for column Plaats").select_option("")
    screenshot("5-fields")
    page.get_by_role("button", name="Next: check the import").click()

    # 6. Review: the dry run's report and warnings; nothing written yet
    expect(page.get_by_role("button", name="Import 3 rows")).to_be_visible()
    expect(page.locator("#matched-by")).to_contain_text("crm")
    _expect_counts(page, created=2, created_shared_address=1, updated=1, rejected=2)
    expect(page.locator("#rejections")).to_contain_text("invalid_email")
    expect(page.locator("#rejections")).to_contain_text("invalid_value")
    assert len(contacts_of(tenant.id)) == 1
    screenshot("6-review")
    page.get_by_role("button", name="Import 3 rows").click()

    # 7. Report, after the live progress
    expect(page.locator("#import-status")).to_have_text("succeeded")
    _expect_counts(page, created=2, created_shared_address=1, updated=1, rejected=2)
    screenshot("7-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["row", "reason", "detail"]
    assert [(row[0], row[1], row[3]) for row in rows[1:]] == [("5", "invalid_email", "K4"),
                                                               ("6", "invalid_value", "K5")]

    contacts = {c["ids"]["crm"]: c for c in contacts_of(tenant.id)}
    assert sorted(contacts) == ["K1", "K2", "K3"]
    assert contacts["K1"]["attributes"]["first_name"] == "Sanne"
    assert contacts["K2"]["attributes"]["birth_date"] == "1985-02-01"
    assert contacts["K3"]["attributes"]["last_name"] == "Jansen"
    assert contacts["K3"]["address_key"] == contacts["K1"]["address_key"]
    assert "Plaats" not in str(contacts["K2"]["attributes"])

    # The home page lists the import and counts the shared address.
    page.get_by_role("link", name="Home").first.click()
    expect(page.locator("#count-total")).to_have_text("3")
    expect(page.locator("#count-shared")).to_have_text("1")
    expect(page.locator("#recent-imports")).to_contain_text("klanten.csv")


def _expect_counts(page: Page, **counts: int) -> None:
    for key, value in counts.items():
        expect(page.locator(f'#report tr[data-count="{key}"] td.num')).to_have_text(str(value))


def test_a_reload_keeps_the_wizards_choices(page, live_server, make_tenant, make_user, sign_in, tmp_path):
    tenant = make_tenant("shop", "external_id", links={"crm": None})
    sign_in(make_user(tenant.id, "manager@shop.example"))
    upload = tmp_path / "klanten.csv"
    upload.write_bytes(DUTCH_EXPORT)
    page.goto(f"{live_server}/imports/new")
    page.get_by_label("Contact file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and continue").click()
    page.get_by_role("button", name="Next: options").click()
    page.get_by_label("Only add new contacts").check()
    page.get_by_role("button", name="Next: external ID").click()
    expect(page.get_by_role("heading", name="External ID")).to_be_visible()
    page.get_by_label("Match contacts by").select_option("crm")
    page.get_by_label("Column that holds this ID").select_option("KlantNr")
    page.get_by_role("button", name="Next: fields").click()
    expect(page.get_by_role("heading", name="Fields")).to_be_visible()
    page.reload()
    page.get_by_role("link", name="External ID").click()
    expect(page.get_by_role("heading", name="External ID")).to_be_visible()
    expect(page.get_by_label("Match contacts by")).to_have_value("crm")
    expect(page.get_by_label("Column that holds this ID")).to_have_value("KlantNr")
    page.get_by_role("link", name="Options").click()
    expect(page.get_by_label("Only add new contacts")).to_be_checked()
