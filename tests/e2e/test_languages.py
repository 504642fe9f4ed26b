"""The campaign manager's day in a browser, in Dutch (an nl-NL browser) and in English: the
contacts page, the import wizard to its report, a segment and a mailing with its send list, each
step checked for its language (`lang`, visible words) and saved as a screenshot in pytest's tmp dir."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

EXPORT = "E-mail;Voornaam\r\nsanne@example.nl;Sänne\r\npiet@example.nl;Piet\r\n".encode("cp1252")
# (what, in Dutch, in English): the words the test looks for on the pages.
WORDING = [
    ("lang", "nl", "en"),
    ("email", "E-mailadres", "E-mail address"),
    ("password", "Wachtwoord", "Password"),
    ("sign_in", "Inloggen", "Sign in"),
    ("contacts", "Contacten", "Contacts"),
    ("import_file", "Bestand importeren", "Import a file"),
    ("file", "Contactbestand", "Contact file"),
    ("upload", "Uploaden en doorgaan", "Upload and continue"),
    ("file_settings", "Bestandsinstellingen", "File settings"),
    ("next_options", "Volgende: opties", "Next: options"),
    ("next_external_id", "Volgende: extern ID", "Next: external ID"),
    ("next_fields", "Volgende: velden", "Next: fields"),
    ("next_check", "Volgende: import controleren", "Next: check the import"),
    ("import_rows", "2 rijen importeren", "Import 2 rows"),
    ("succeeded", "geslaagd", "succeeded"),
    ("segments", "Segmenten", "Segments"),
    ("new_segment", "Nieuw segment", "New segment"),
    ("name", "Naam", "Name"),
    ("add_condition", "Voorwaarde toevoegen", "Add a condition"),
    ("save_segment", "Segment opslaan", "Save the segment"),
    ("mailings", "Mailings", "Mailings"),
    ("new_mailing", "Nieuwe mailing", "New mailing"),
    ("create_mailing", "Mailing aanmaken", "Create the mailing"),
    ("send_list", "Verzendlijst downloaden (CSV)", "Download the send list (CSV)"),
    ("semicolon", "Puntkomma ( ; )", "Semicolon ( ; )"),
    ("delimiter", ";", ","),
]
WORDS = {"nl-NL": {key: dutch for key, dutch, _ in WORDING},
         "en-GB": {key: english for key, _, english in WORDING}}


@pytest.mark.parametrize("locale", ["nl-NL", "en-GB"])
def test_a_day_in_the_browsers_language(browser, live_server, make_tenant, make_user, tmp_path: Path,
                                        locale: str) -> None:
    words = WORDS[locale]
    tenant = make_tenant("winkel", fields={"first_name": "text"})
    user = make_user(tenant.id, "manager@winkel.example")
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    steps = iter(range(1, 100))

    def step(label: str) -> None:
        """The page is in the language: its `lang`, then a screenshot of this step."""
        expect(page.locator("html")).to_have_attribute("lang", words["lang"])
        page.screenshot(path=str(tmp_path / f"{locale}-{next(steps):02d}-{label}.png"), full_page=True)

    try:
        page.goto(f"{live_server}/sign-in")
        page.get_by_label(words["email"]).fill(user.email)
        page.get_by_label(words["password"]).fill(user.password)
        step("sign-in")
        page.get_by_role("button", name=words["sign_in"]).click()
        page.wait_for_url(f"{live_server}/")
        expect(page.get_by_role("navigation").get_by_role("link", name=words["contacts"])).to_be_visible()
        step("home")

        _wizard(page, words, tmp_path, step)
        page.get_by_role("navigation").get_by_role("link", name=words["contacts"]).click()
        expect(page.get_by_role("heading", name=words["contacts"], exact=True)).to_be_visible()
        expect(page.locator("#contacts")).to_contain_text("sanne@example.nl")
        step("contacts")

        page.get_by_role("navigation").get_by_role("link", name=words["segments"]).click()
        page.get_by_role("link", name=words["new_segment"]).click()
        page.get_by_label(words["name"], exact=True).fill("Iedereen")
        # The builder's own words come from the page's language too.
        expect(page.get_by_role("button", name=words["add_condition"])).to_be_visible()
        step("segment-builder")
        page.get_by_role("button", name=words["save_segment"]).click()
        expect(page.get_by_role("heading", name="Iedereen")).to_be_visible()
        step("segment")

        page.get_by_role("navigation").get_by_role("link", name=words["mailings"]).click()
        page.get_by_role("link", name=words["new_mailing"]).click()
        page.get_by_label(words["name"], exact=True).fill("Nieuwsbrief")
        page.locator("#include-segments").get_by_label("Iedereen").check()
        step("new-mailing")
        page.get_by_role("button", name=words["create_mailing"]).click()
        expect(page.get_by_role("heading", name="Nieuwsbrief")).to_be_visible()
        step("mailing")
        with page.expect_download() as download:
            page.get_by_role("link", name=words["send_list"]).click()
        body = download.value.path().read_bytes()
        assert body.startswith(b"\xef\xbb\xbf")  # both languages: a spreadsheet reads UTF-8 right
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=words["delimiter"]))
        assert rows[0][:2] == ["id", "email"] and {row[1] for row in rows[1:]} == {"sanne@example.nl",
                                                                                   "piet@example.nl"}
    finally:
        context.close()
    assert len(list(tmp_path.glob(f"{locale}-*.png"))) == 12


def _wizard(page: Page, words: dict[str, str], tmp_path: Path, step) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name=words["import_file"]).first.click()
    upload = tmp_path / "klanten.csv"
    upload.write_bytes(EXPORT)
    page.get_by_label(words["file"]).set_input_files(str(upload))
    step("upload")
    page.get_by_role("button", name=words["upload"]).click()
    expect(page.get_by_role("heading", name=words["file_settings"])).to_be_visible()
    expect(page.locator("#detected")).to_contain_text(words["semicolon"])
    step("file-settings")
    page.get_by_role("button", name=words["next_options"]).click()
    page.get_by_role("button", name=words["next_external_id"]).click()
    page.get_by_role("button", name=words["next_fields"]).click()
    step("fields")
    page.get_by_role("button", name=words["next_check"]).click()
    expect(page.get_by_role("button", name=words["import_rows"])).to_be_visible()
    step("review")
    page.get_by_role("button", name=words["import_rows"]).click()
    expect(page.locator("#import-status")).to_have_text(words["succeeded"])
    step("report")
