"""The review step in Dutch in a browser (issue 13, item 7 and 8): the button counts the rows that
will be written, each warning is said once, the typo warning names its rows, and a person under two
customer numbers is named as "possibly the same person"; a screenshot of the step."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

HEADER = "KlantNr;email;first_name;last_name;birth_date\r\n"


def _export() -> tuple[bytes, list[int]]:
    """31 rows: Sanne again under K100, 25 others (two at a misspelt gmail), 5 without an address."""
    rows = ["K100;SANNE@example.nl;Sänne;JANSEN;"]
    rows += [f"K{200 + n};p{n}@{'gmial.com' if n in (3, 17) else 'example.nl'};P{n};Smit;1990-01-01"
             for n in range(25)]
    rows += [f"K{300 + n};geen-adres-{n};Kees;Bakker;" for n in range(5)]
    typo_rows = [2 + rows.index(row) for row in rows if "gmial" in row]  # as a spreadsheet numbers them
    return (HEADER + "\r\n".join(rows) + "\r\n").encode("utf-8"), typo_rows


def test_the_review_step_in_dutch(browser, live_server, make_tenant, make_user, import_ok,
                                  tmp_path: Path) -> None:
    tenant = make_tenant("winkel", "external_id", links={"crm": None},
                         fields={"first_name": "text", "last_name": "text", "birth_date": "date"})
    import_ok(tenant, [["KlantNr", "email", "first_name", "last_name", "birth_date"],
                       ["K1", "sanne@example.nl", "Sanne", "Jansen", "1980-03-01"]],
              {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
               "mapping": {"email": "email", "first_name": "first_name", "last_name": "last_name",
                           "birth_date": "birth_date"}})
    user = make_user(tenant.id, "manager@winkel.example")
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/sign-in")
        page.get_by_label("E-mailadres").fill(user.email)
        page.get_by_label("Wachtwoord").fill(user.password)
        page.get_by_role("button", name="Inloggen").click()
        page.wait_for_url(f"{live_server}/")
        page.get_by_role("link", name="Bestand importeren").first.click()
        content, typo_rows = _export()
        upload = tmp_path / "klanten.csv"
        upload.write_bytes(content)
        page.get_by_label("Contactbestand").set_input_files(str(upload))
        page.get_by_role("button", name="Uploaden en doorgaan").click()
        page.get_by_role("button", name="Volgende: opties").click()
        page.get_by_role("button", name="Volgende: extern ID").click()
        page.get_by_label("Contacten herkennen op").select_option("crm")
        page.get_by_label("Kolom met dit ID").select_option("KlantNr")
        page.get_by_role("button", name="Volgende: velden").click()
        page.get_by_role("button", name="Volgende: import controleren").click()

        # 31 rows, 5 rejected: 26 are written.
        expect(page.get_by_role("button", name="26 rijen importeren")).to_be_visible()
        expect(page.locator('#report tr[data-count="rejected"] td.num')).to_have_text("5")
        warnings = page.locator("#warnings li")
        codes = [warnings.nth(n).get_attribute("data-code") for n in range(warnings.count())]
        assert sorted(codes) == ["created_shared_address", "possible_duplicate_person",
                                 "possible_typo_domain"], codes
        typo = page.locator('#warnings li[data-code="possible_typo_domain"]')
        expect(typo).to_contain_text(f"2 rijen hebben zo'n domein: rijen {typo_rows[0]}, {typo_rows[1]}.")
        doubles = page.locator('#warnings li[data-code="possible_duplicate_person"]')
        expect(doubles).to_contain_text("Mogelijk dezelfde persoon (1)")
        expect(doubles).to_contain_text("K1 en K100 (sanne@example.nl)")
        page.screenshot(path=str(tmp_path / "review-nl.png"), full_page=True)

        page.get_by_role("button", name="26 rijen importeren").click()
        expect(page.locator("#import-status")).to_have_text("geslaagd")
        expect(page.locator('#report tr[data-count="created"] td.num')).to_have_text("26")
    finally:
        context.close()
    assert (tmp_path / "review-nl.png").stat().st_size > 0
