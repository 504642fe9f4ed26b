"""One contact over the API: its history, re-subscription, PATCH, DELETE (erasure) and its lift, the
export of all contacts, and the list by status; each against another account's contact and the scopes."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import Session

from service.domain.erasures import is_erased
from tests.integration import mailing_helpers as mailings
from tests.integration.contact_helpers import FIELDS, three_contacts


@pytest.fixture
def acme(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    return three_contacts(make_tenant, import_rows, engine)


@pytest.fixture
def other(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    return mailings.make_account(make_tenant, import_rows, engine, [["", "x@example.nl", "", "", "", ""]],
                                 name="other", mode="email", fields=FIELDS)


def _get(client, account, contact_id: int) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/contacts/{contact_id}", headers=account.auth())
    assert response.status_code == 200, response.json
    return response.json


def _patch(client, account, contact_id: int, body, scope: str = "manage"):  # type: ignore[no-untyped-def]
    return client.patch(f"/api/v1/contacts/{contact_id}", json=body, headers=account.auth(scope))


def _error(response, status: int, code: str | None = None) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.json
    assert set(response.json["error"]) == {"code", "message"}
    if code is not None:
        assert response.json["error"]["code"] == code, response.json
    return response.json["error"]["message"]


def test_the_history_says_each_status_change(client, acme):
    piet = acme["piet@example.nl"]
    response = client.post(f"/api/v1/contacts/{piet}/resubscribe", json={"consent": "opted in on the form"},
                           headers=acme.auth())
    assert response.status_code == 200, response.json
    assert response.json["status"] == "active"
    response = client.post(f"/api/v1/contacts/{piet}/unsubscribe", json={"detail": "by phone"},
                           headers=acme.auth())
    assert response.json["status"] == "unsubscribed"
    response = client.get(f"/api/v1/contacts/{piet}/history", headers=acme.auth())
    assert response.status_code == 200, response.json
    history = response.json["history"]
    assert [(h["status_from"], h["status_to"], h["source"], h["detail"]) for h in history][-2:] == [
        ("unsubscribed", "active", "api", "opted in on the form"),
        ("active", "unsubscribed", "api", "by phone")]
    assert all(set(h) >= {"at", "status_from", "status_to", "source", "source_id", "detail"} for h in history)


def test_resubscription_needs_consent_and_for_a_bounce_an_admin_key(client, acme):
    piet, bounced = acme["piet@example.nl"], acme["=cmd@example.nl"]
    for body in ({"consent": "  "}, {}, {"consent": 12}):
        _error(client.post(f"/api/v1/contacts/{piet}/resubscribe", json=body, headers=acme.auth()), 400)
    assert _get(client, acme, piet)["status"] == "unsubscribed"
    _error(client.post(f"/api/v1/contacts/{piet}/resubscribe", json={"consent": "x"},
                       headers=acme.auth("send")), 403)
    _error(client.post(f"/api/v1/contacts/{bounced}/resubscribe", json={"consent": "fixed the address"},
                       headers=acme.auth()), 409, "address_bounced")
    assert _get(client, acme, bounced)["status"] == "bounced"
    response = client.post(f"/api/v1/contacts/{bounced}/resubscribe", json={"consent": "fixed the address"},
                           headers=acme.auth("admin"))
    assert response.status_code == 200 and response.json["status"] == "active", response.json


@pytest.mark.parametrize(("body", "part"), [
    ({"email": "no-address"}, "email"),
    ({"fields": {"born": "31-02-2001"}}, "fields.born"),
    ({"fields": {"vip": "perhaps"}}, "fields.vip"),
    ({"fields": {"shoe_size": 42}}, "fields.shoe_size"),
    ({"external_ids": {"shop": "S1"}}, "external_ids.shop"),
    ({"external_ids": {"crm": 12}}, "external_ids.crm"),
    ({"status": "active"}, "status"),
    ({"name": "Sanne"}, "name"),
])
def test_a_failed_patch_names_its_part_and_changes_nothing(client, acme, body, part):
    sanne = acme["sanne@example.nl"]
    before = _get(client, acme, sanne)
    message = _error(_patch(client, acme, sanne, {"fields": {"city": "Changed"}, **body}), 400)
    assert part in message
    assert _get(client, acme, sanne) == before  # updated_at included


def test_patch_conflicts_are_409_and_change_nothing(client, acme):
    sanne, piet = acme["sanne@example.nl"], acme["piet@example.nl"]
    assert _patch(client, acme, piet, {"external_ids": {"crm": "K2"}}).status_code == 200
    before = _get(client, acme, sanne)
    _error(_patch(client, acme, sanne, {"email": "Piet@Example.nl", "fields": {"city": "X"}}), 409,
           "address_conflict")
    _error(_patch(client, acme, sanne, {"external_ids": {"crm": "K2"}, "fields": {"city": "X"}}), 409,
           "id_conflict")
    assert _get(client, acme, sanne) == before


def test_a_patch_applies_and_an_unchanged_patch_keeps_updated_at(client, acme):
    sanne = acme["sanne@example.nl"]
    before = _get(client, acme, sanne)
    response = _patch(client, acme, sanne, {"email": "sanne@example.nl", "fields": {"city": "Utrecht"}})
    assert response.status_code == 200 and response.json == before
    response = _patch(client, acme, sanne, {"fields": {"born": "1999-12-31", "city": None},
                                            "external_ids": {"crm": "K9"}})
    assert response.status_code == 200, response.json
    after = response.json
    assert after["fields"] == {"first_name": "Sanne", "vip": True, "born": "1999-12-31"}
    assert after["external_ids"] == {"crm": "K9"}
    assert after["updated_at"] > before["updated_at"] and after["created_at"] == before["created_at"]
    assert _get(client, acme, sanne) == after


def test_erasure_deletes_the_contact_keeps_the_ledger_and_refuses_the_address_until_lifted(
        client, engine, acme, other):
    sanne, piet = acme["sanne@example.nl"], acme["piet@example.nl"]
    segment = mailings.create_segment(client, acme, mailings.EVERYONE)
    mailing = mailings.create_mailing(client, acme, [segment])
    assert [r["verdict"] for r in mailings.verdicts(client, acme, mailing, [sanne])] == ["send"]
    claimed = mailings.preview(client, acme, mailing)["claimed"]
    _error(client.delete(f"/api/v1/contacts/{sanne}", headers=acme.auth("send")), 403)
    response = client.delete(f"/api/v1/contacts/{sanne}", headers=acme.auth())
    assert response.status_code == 204 and response.data == b""
    _error(client.get(f"/api/v1/contacts/{sanne}", headers=acme.auth()), 404)
    _error(client.delete(f"/api/v1/contacts/{sanne}", headers=acme.auth()), 404)
    _error(client.get(f"/api/v1/contacts/{sanne}/history", headers=acme.auth()), 404)
    assert mailings.preview(client, acme, mailing)["claimed"] == claimed
    [row] = mailings.ledger_table(engine, mailing)
    assert "sanne" not in str(row)
    with Session(engine) as session:
        assert is_erased(session, acme.id, "sanne@example.nl")
    # An edit to the erased address is refused until an admin lifts the erasure.
    _error(_patch(client, acme, piet, {"email": " SANNE@example.nl"}), 409, "erased_address")
    _error(client.post("/api/v1/erasures/lift", json={"address": "sanne@example.nl"},
                       headers=acme.auth()), 403)
    _error(client.post("/api/v1/erasures/lift", json={}, headers=acme.auth("admin")), 400)
    _error(_patch(client, acme, piet, {"email": "sanne@example.nl"}, scope="send"), 403)
    _error(client.get(f"/api/v1/contacts/{piet}/history", headers=acme.auth("send")), 403)
    # Another account's admin lifts nothing of this account's.
    response = client.post("/api/v1/erasures/lift", json={"address": "sanne@example.nl"},
                           headers=other.auth("admin"))
    assert response.json == {"lifted": 0}
    response = client.post("/api/v1/erasures/lift", json={"address": "Sanne@Example.nl"},
                           headers=acme.auth("admin"))
    assert response.status_code == 200 and response.json == {"lifted": 1}, response.json
    response = client.post("/api/v1/erasures/lift", json={"address": "sanne@example.nl"},
                           headers=acme.auth("admin"))
    assert response.json == {"lifted": 0}
    assert _patch(client, acme, piet, {"email": "sanne@example.nl"}).status_code == 200


def _export(client, account, query: str = "", scope: str = "manage"):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/contacts/export{query}", headers=account.auth(scope))


def test_the_export_holds_every_contact_of_the_account_once(client, acme, other):
    edit = {"external_ids": {"crm": "=HYPERLINK(1)"}, "fields": {"born": "2000-01-02"}}
    assert _patch(client, acme, acme["sanne@example.nl"], edit).status_code == 200
    response = _export(client, acme)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert not text.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == ["id", "email", "status", "created_at", "updated_at", "first_name", "city", "vip",
                      "born", "points", "crm"]
    listed = client.get("/api/v1/contacts", headers=acme.auth()).json["contacts"]
    assert sorted(int(row[0]) for row in rows) == sorted(c["id"] for c in listed)
    by_id = {int(row[0]): row for row in rows}
    for contact in listed:
        row = by_id[contact["id"]]
        assert row[1].lstrip("'") == contact["email"] and row[2] == contact["status"]
        assert row[4] == contact["updated_at"].replace("Z", "+00:00")
    sanne = by_id[acme["sanne@example.nl"]]
    assert sanne[5:] == ["Sanne", "Utrecht", "true", "2000-01-02", "", "'=HYPERLINK(1)"]
    formula = by_id[acme["=cmd@example.nl"]]
    assert formula[1] == "'=cmd@example.nl" and formula[5:7] == ["'@SUM(A1)", "'-1+2"]
    assert "x@example.nl" not in text  # another account's contact


def test_the_export_takes_a_semicolon_a_tab_and_a_byte_order_mark(client, acme):
    text = _export(client, acme, "?delimiter=;&bom=true").get_data(as_text=True)
    assert text.startswith("\ufeffid;email;status;")
    assert len(list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))) == 4
    assert _export(client, acme, "?delimiter=tab").get_data(as_text=True).startswith("id\temail\t")
    _error(_export(client, acme, "?delimiter=|"), 400)
    _error(_export(client, acme, "?bom=perhaps"), 400)
    _error(_export(client, acme, scope="send"), 403)


def test_the_list_filters_by_status_and_pages_through_everyone(client, acme):
    response = client.get("/api/v1/contacts?status=unsubscribed", headers=acme.auth())
    assert [c["address_key"] for c in response.json["contacts"]] == ["piet@example.nl"]
    _error(client.get("/api/v1/contacts?status=gone", headers=acme.auth()), 400)
    seen, cursor = [], 0
    while cursor is not None:
        page = client.get(f"/api/v1/contacts?limit=2&cursor={cursor}", headers=acme.auth()).json
        seen += [c["id"] for c in page["contacts"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(acme.ids.values())


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("get", "/history", None),
    ("post", "/resubscribe", {"consent": "yes"}),
    ("post", "/unsubscribe", {}),
    ("patch", "", {"fields": {"city": "X"}}),
    ("delete", "", None),
])
def test_another_accounts_contact_is_not_found(client, acme, other, method, suffix, body):
    theirs = other["x@example.nl"]
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(f"/api/v1/contacts/{theirs}{suffix}", headers=acme.auth("admin"),
                                       **kwargs)
    _error(response, 404, "not_found")
    assert _get(client, other, theirs)["fields"] == {}
    _error(getattr(client, method)(f"/api/v1/contacts/2147483647{suffix}", headers=acme.auth(), **kwargs),
           404)


def test_the_cli_exports_all_contacts(cli, acme, tmp_path):
    result = cli("contacts", "export", "acme")
    assert result.exit_code == 0, result.output
    header, *rows = list(csv.reader(io.StringIO(result.stdout)))
    assert header[:3] == ["id", "email", "status"] and len(rows) == 3
    target = tmp_path / "all.csv"
    result = cli("contacts", "export", "acme", "-o", str(target), "--delimiter", ";", "--bom")
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("\ufeffid;email;status;")
    assert "3 contacts written" in result.stderr
    result = cli("contacts", "export", "nobody")
    assert result.exit_code == 1 and "no account named 'nobody'" in result.output


def test_an_erasure_blanks_the_address_in_rejected_import_rows(client, acme, import_rows, rejected_rows):
    rows = [mailings.HEADER, ["", " Sanne@Example.nl ", "Sanne", "", "misschien", ""],
            ["", "piet@example.nl", "Piet", "", "misschien", ""]]
    job = import_rows(acme.tenant, rows, mailings.BY_EMAIL)
    assert job["report"]["rejected"] == 2
    response = client.delete(f"/api/v1/contacts/{acme['sanne@example.nl']}", headers=acme.auth())
    assert response.status_code == 204
    _, rejected = rejected_rows(acme.tenant, job["id"])
    assert [row[3:] for row in rejected] == [["", "(erased)", "", "", "", ""],
                                             ["", "piet@example.nl", "Piet", "", "misschien", ""]]
    assert [row[:2] for row in rejected] == [["2", "invalid_value"], ["3", "invalid_value"]]
