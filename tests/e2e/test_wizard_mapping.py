"""The wizard's field step in Dutch knows its users: a Dutch export's columns map to the account's
fields (or to new ones of a fitting type) without a select touched, fields show by label or in
words, and a second import by the same link gets its ID column and last mapping preselected."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlmodel import Session

from service.domain.accounts import create_field
from service.models import Account
from tests.e2e.conftest import SCREENSHOTS

FIRST = ("KlantNr;E-mailadres;Voornaam;Achternaam;Woonplaats;Geboortedatum;Kleur\r\n"
         "K1;sanne@example.nl;Sanne;Jansen;Utrecht;31-12-1999;blauw\r\n"
         "K2;piet@example.nl;Piet;de Vries;Zwolle;01-02-1985;rood\r\n").encode("cp1252")
# The same people under another ID column name, the columns in another order.
SECOND = ("Code;Kleur;Voornaam;E-mailadres;Plaats\r\n"
          "K1;groen;Sanne;sanne@example.nl;Amersfoort\r\n"
          "K2;geel;Piet;piet@example.nl;Zwolle\r\n").encode("cp1252")


def test_a_dutch_export_maps_itself_and_the_link_remembers(browser, live_server, engine, make_tenant,
                                                            make_user, contacts_of, tmp_path):
    tenant = make_tenant("winkel", "external_id", links={"crm": None}, fields={"last_name": "text"})
    with Session(engine) as session:
        account = session.get(Account, tenant.id)
        assert account is not None
        create_field(session, account=account, name="first_name", type="text", label="Roepnaam")
    user = make_user(tenant.id, "manager@winkel.example")
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    SCREENSHOTS.mkdir(exist_ok=True)

    def screenshot(label: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"wizard-mapping-nl-{label}.png"), full_page=True)

    try:
        page.goto(f"{live_server}/sign-in")
        page.get_by_label("E-mailadres").fill(user.email)
        page.get_by_label("Wachtwoord").fill(user.password)
        page.get_by_role("button", name="Inloggen").click()
        page.wait_for_url(f"{live_server}/")

        # The first import: the link picked, its ID column found by its name.
        _upload(page, live_server, tmp_path, FIRST)
        _choose_link(page)
        expect(page.get_by_label("Kolom met dit ID")).to_have_value("KlantNr")
        screenshot("1-external-id")
        page.get_by_role("button", name="Volgende: velden").click()

        # Every column but "Kleur" mapped without a select touched: the account's fields, new ones
        # for Woonplaats (text) and Geboortedatum (a date); fields named by label or in Dutch words.
        expect(_field(page, "E-mailadres")).to_have_value("email")
        expect(_field(page, "Voornaam")).to_have_value("first_name")
        expect(_field(page, "Voornaam").locator("option:checked")).to_have_text("Roepnaam (tekst)")
        expect(_field(page, "Achternaam")).to_have_value("last_name")
        expect(_field(page, "Achternaam").locator("option:checked")).to_have_text("Achternaam (tekst)")
        expect(_field(page, "Woonplaats")).to_have_value("__new__")
        expect(page.locator("#new_name_4")).to_have_value("city")
        expect(page.locator("#new_type_4")).to_have_value("text")
        expect(_field(page, "Geboortedatum")).to_have_value("__new__")
        expect(page.locator("#new_name_5")).to_have_value("birth_date")
        expect(page.locator("#new_type_5")).to_have_value("date")
        expect(_field(page, "Kleur")).to_have_value("")
        _field(page, "Kleur").select_option("__new__")
        page.locator("#new_name_6").fill("favourite_colour")
        screenshot("2-fields")
        _check_and_import(page)

        contacts = {c["ids"]["crm"]: c["attributes"] for c in contacts_of(tenant.id)}
        assert contacts["K1"] == {"first_name": "Sanne", "last_name": "Jansen", "city": "Utrecht",
                                  "birth_date": "1999-12-31", "favourite_colour": "blauw"}

        # The second import by the same link: the column that holds its IDs (by its values, its
        # name is new) and the last import's mapping ("Kleur") are preselected.
        _upload(page, live_server, tmp_path, SECOND)
        _choose_link(page)
        expect(page.get_by_label("Kolom met dit ID")).to_have_value("Code")
        screenshot("3-external-id-again")
        page.get_by_role("button", name="Volgende: velden").click()
        expect(_field(page, "Kleur")).to_have_value("favourite_colour")
        expect(_field(page, "Voornaam")).to_have_value("first_name")
        expect(_field(page, "E-mailadres")).to_have_value("email")
        expect(_field(page, "Plaats")).to_have_value("city")
        expect(page.locator("#field-links")).to_contain_text("Herkend op:")
        screenshot("4-fields-again")
        _check_and_import(page)
    finally:
        context.close()
    contacts = {c["ids"]["crm"]: c["attributes"] for c in contacts_of(tenant.id)}
    assert sorted(contacts) == ["K1", "K2"]
    assert contacts["K1"]["favourite_colour"] == "groen" and contacts["K1"]["city"] == "Amersfoort"


def _upload(page: Page, live_server: str, tmp_path, content: bytes) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/imports/new")
    upload = tmp_path / "klanten.csv"
    upload.write_bytes(content)
    page.get_by_label("Contactbestand").set_input_files(str(upload))
    page.get_by_role("button", name="Uploaden en doorgaan").click()
    page.get_by_role("button", name="Volgende: opties").click()
    page.get_by_role("button", name="Volgende: extern ID").click()


def _choose_link(page: Page) -> None:
    link = page.get_by_label("Contacten herkennen op")
    expect(link).to_have_value("")  # the default stays "Not linked"
    link.select_option("crm")


def _field(page: Page, column: str):  # type: ignore[no-untyped-def]
    return page.get_by_label(f"Veld voor kolom {column}", exact=True)


def _check_and_import(page: Page) -> None:
    page.get_by_role("button", name="Volgende: import controleren").click()
    page.get_by_role("button", name="2 rijen importeren").click()
    expect(page.locator("#import-status")).to_have_text("geslaagd")
    # The progress box says so before the page reloads itself as the ended import's: wait for that
    # page (no progress box), so that the next goto does not cut the reload short.
    expect(page.locator("[data-progress-url]")).to_have_count(0)
