"""The dedup-rule page through the test client: managers preview, admins apply and undo."""

from __future__ import annotations

import pytest
from page_helpers import csrf_token, signed_in

ROWS = [["KlantNr", "E-mail", "first_name"],
        ["K1", "jan@home.nl", "Jan"],
        ["K2", "JAN@home.nl", "Marie"],
        ["K3", "piet@work.nl", "Piet"]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
          "mapping": {"E-mail": "email", "first_name": "first_name"}}






@pytest.fixture
def family(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    """An external-ID account where two contacts share jan@home.nl."""
    tenant = make_tenant("family", "external_id", links={"crm": None}, fields={"first_name": "text"})
    import_rows(tenant, ROWS, BY_CRM)
    return tenant


def _mode(client, tenant) -> str:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/account", headers=tenant.auth()).json["dedup_mode"]


def _count(contacts_of, tenant) -> int:  # type: ignore[no-untyped-def]
    return len(contacts_of(tenant.id))


def test_a_manager_sees_the_preview_but_cannot_apply_or_undo(app, engine, client, family, contacts_of):
    manager = signed_in(app, engine, family.id, "anna@family.example")
    page = manager.get("/dedup")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "By the external ID of a linked system." in text and "Dedup rule</a>" in text
    page = manager.get("/dedup?preview=1&representative=oldest")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="dedup-preview"' in text
    assert "jan@home.nl" in text and "<svg" in text and "first_name" in text
    assert 'id="apply-form"' not in text and "Only support staff can apply" in text
    token = csrf_token(page)
    refused = manager.post("/dedup/apply", data={"csrf_token": token, "to": "email", "confirm": "yes"})
    assert refused.status_code == 403 and b"Only support staff" in refused.data
    refused = manager.post("/dedup/undo", data={"csrf_token": token, "change_id": "1", "confirm": "yes"})
    assert refused.status_code == 403
    assert _mode(client, family) == "external_id" and _count(contacts_of, family) == 3


def test_an_admin_applies_and_undoes_a_change(app, engine, client, family, contacts_of):
    admin = signed_in(app, engine, family.id, "support@family.example", is_admin=True)
    before = contacts_of(family.id)
    page = admin.get("/dedup?preview=1")
    assert b'id="apply-form"' in page.data
    token = csrf_token(page)
    # Without the tick "I have read the preview": the preview again, nothing changed.
    unconfirmed = admin.post("/dedup/apply", data={"csrf_token": token, "to": "email"})
    assert unconfirmed.status_code == 400 and b"I have read the preview" in unconfirmed.data
    assert _mode(client, family) == "external_id"

    applied = admin.post("/dedup/apply", data={"csrf_token": token, "to": "email", "confirm": "yes",
                                               "representative": "most_recently_updated"})
    assert applied.status_code == 302
    page = admin.get("/dedup")
    text = page.get_data(as_text=True)
    assert "Change 1 is applied" in text and "1 contact was merged away" in text
    assert "By e-mail address." in text and 'id="confirm-undo-1"' in text
    assert _mode(client, family) == "email" and _count(contacts_of, family) == 2

    # Undo needs its own tick, then restores the contacts and the mode.
    assert admin.post("/dedup/undo", data={"csrf_token": token, "change_id": "1"}).status_code == 400
    assert _mode(client, family) == "email"
    undone = admin.post("/dedup/undo", data={"csrf_token": token, "change_id": "1", "confirm": "yes"})
    assert undone.status_code == 302
    text = admin.get("/dedup").get_data(as_text=True)
    assert "Change 1 is undone: 1 contact was restored" in text and 'id="confirm-undo-1"' not in text
    assert _mode(client, family) == "external_id" and contacts_of(family.id) == before

    # A second undo: the engine's refusal on the page, not a stack trace or JSON.
    again = admin.post("/dedup/undo", data={"csrf_token": token, "change_id": "1", "confirm": "yes"})
    assert again.status_code == 409
    assert b"was undone already" in again.data and b'role="alert"' in again.data


def test_forms_without_their_csrf_token_are_refused(app, engine, client, family, contacts_of):
    admin = signed_in(app, engine, family.id, "support@family.example", is_admin=True)
    refused = admin.post("/dedup/apply", data={"to": "email", "confirm": "yes"})
    assert refused.status_code == 400 and b"The form has expired" in refused.data
    assert _mode(client, family) == "external_id" and _count(contacts_of, family) == 3
    assert admin.post("/dedup/undo", data={"change_id": "1", "confirm": "yes"}).status_code == 400


def test_another_accounts_change_cannot_be_undone(app, engine, client, family, make_tenant, contacts_of):
    admin = signed_in(app, engine, family.id, "support@family.example", is_admin=True)
    token = csrf_token(admin.get("/dedup"))
    assert admin.post("/dedup/apply", data={"csrf_token": token, "to": "email",
                                            "confirm": "yes"}).status_code == 302
    other = make_tenant("other", "email")
    intruder = signed_in(app, engine, other.id, "support@other.example", is_admin=True)
    page = intruder.get("/dedup")
    assert b"Change 1" not in page.data
    refused = intruder.post("/dedup/undo", data={"csrf_token": csrf_token(page), "change_id": "1",
                                                 "confirm": "yes"})
    assert refused.status_code == 404 and b"not found" in refused.data
    assert _mode(client, family) == "email" and _count(contacts_of, family) == 2


def test_engine_errors_show_on_the_page(app, engine, make_tenant):
    tenant = make_tenant("plain", "email", links={"crm": None})
    admin = signed_in(app, engine, tenant.id, "support@plain.example", is_admin=True)
    page = admin.get("/dedup?preview=1&link=nope")
    assert page.status_code == 400 and b"no link named" in page.data and b"Traceback" not in page.data
    page = admin.get("/dedup?preview=1&link=crm")
    assert page.status_code == 200 and b'id="without-id"' not in page.data
    assert b"Contacts without an ID for" in page.data


def test_users_create_admin_makes_support_staff(cli, engine, make_tenant):
    make_tenant("acme")
    result = cli("users", "create", "acme", "support@acme.example", "--password", "a long secret", "--admin")
    assert result.exit_code == 0 and "admin user support@acme.example" in result.output
    assert cli("users", "create", "acme", "anna@acme.example", "--password", "a long secret").exit_code == 0
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT email, is_admin FROM users ORDER BY id").all()
    assert [(email, bool(admin)) for email, admin in rows] == [("support@acme.example", True),
                                                               ("anna@acme.example", False)]


def test_a_representative_rule_without_its_field_is_explained(app, engine, family):
    manager = signed_in(app, engine, family.id, "anna@family.example")
    page = manager.get("/dedup?preview=1&representative=prefer_non_empty")
    assert page.status_code == 400 and b"cannot be used: choose the field" in page.data
    page = manager.get("/dedup?preview=1&representative=prefer_non_empty&prefer_field=first_name")
    assert page.status_code == 200 and b'id="dedup-preview"' in page.data
