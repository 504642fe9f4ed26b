"""The dedup-rule page in a browser: support staff preview a change to e-mail dedup, confirm and
apply it, see it in the history and undo it."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import Session

from service.domain.users import create_user
from service.models import Account
from tests.e2e.conftest import WebUser

ROWS = [["KlantNr", "E-mail", "first_name"],
        ["K1", "jan@home.nl", "Jan"],
        ["K2", "JAN@home.nl", "Marie"],
        ["K3", "piet@work.nl", "Piet"]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
          "mapping": {"E-mail": "email", "first_name": "first_name"}}


def _admin(engine, account_id: int, email: str) -> WebUser:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        create_user(session, account=session.get(Account, account_id), email=email,
                    password="correct horse battery", is_admin=True)
    return WebUser(email, "correct horse battery", account_id)


def test_an_admin_previews_applies_and_undoes_a_change_to_email(page, live_server, engine, make_tenant,
                                                                import_rows, sign_in, contacts_of,
                                                                screenshot):
    tenant = make_tenant("family", "external_id", links={"crm": None}, fields={"first_name": "text"})
    import_rows(tenant, ROWS, BY_CRM)
    before = contacts_of(tenant.id)
    sign_in(_admin(engine, tenant.id, "support@family.example"))

    page.get_by_role("link", name="Dedup rule").click()
    expect(page.get_by_role("heading", name="Dedup rule", exact=True)).to_be_visible()
    expect(page.locator("#current-rule")).to_contain_text("By the external ID of a linked system.")
    expect(page.locator("#history")).to_have_count(0)

    page.get_by_label("Which contact of a shared address survives").select_option("oldest")
    page.get_by_role("button", name="Preview").click()
    impact = page.locator("#impact")
    expect(impact.get_by_role("row", name="Shared addresses")).to_contain_text("1")
    expect(impact.get_by_role("row", name="Contacts now")).to_contain_text("3")
    expect(impact.get_by_role("row", name="Contacts after the change")).to_contain_text("2")
    expect(page.locator("#conflicts")).to_contain_text("first_name")
    expect(page.locator("svg.dedup-chart g[data-label='Merged away']")).to_have_attribute("data-count", "1")
    expect(page.locator("table.example").first).to_contain_text("survives")
    screenshot("preview")

    page.get_by_label("I have read the preview").check()
    page.get_by_role("button", name="Apply the change").click()
    expect(page.get_by_role("status")).to_contain_text("Change 1 is applied")
    expect(page.locator("#current-rule")).to_contain_text("By e-mail address.")
    history = page.locator("#history")
    expect(history.get_by_role("row", name="Change 1")).to_contain_text("external ID")
    assert len(contacts_of(tenant.id)) == 2
    screenshot("applied")

    page.get_by_label("Undo change 1").check()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_contain_text("Change 1 is undone: 1 contact was restored")
    expect(page.locator("#current-rule")).to_contain_text("By the external ID of a linked system.")
    expect(page.get_by_label("Undo change 1")).to_have_count(0)
    assert contacts_of(tenant.id) == before
