"""The contact pages through the test client: the list's search, filter and keyset pages, a
contact's page with its history in words, the export, and every change made from it (edit with
its errors on the form, unsubscribe, re-subscribe asking for consent, erase after a confirmation),
each behind the sign-in, the CSRF token and the account's own contacts."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from page_helpers import csrf_token, signed_in
from sqlalchemy import text
from sqlmodel import Session

from importer.vocabulary import StatusSource
from service.domain.status_history import Change, record_changes
from service.models import ContactEvent

FAMILY = [["nr", "email", "first_name", "age", "member_since", "vip"],
          ["K1", "jan@home.nl", "Jan", "41", "2020-01-31", "yes"],
          ["K2", "JAN@home.nl", "Anna", "39", "", "no"],
          ["K3", "piet@example.nl", "Piet", "", "", ""],
          ["K4", "kees@example.nl", "Kees", "70", "", ""]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "age": "age",
                      "member_since": "member_since", "vip": "vip"}}
FIELDS = {"first_name": "text", "age": "number", "member_since": "date", "vip": "boolean"}


def _family(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    tenant = make_tenant("family", "external_id", links={"crm": r"K\d+"}, fields=FIELDS)
    import_rows(tenant, FAMILY, BY_CRM)
    return tenant


def _family_opted_out(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    """The family with Piet (K3) unsubscribed and Kees (K4) bounced; the tenant and the ids."""
    tenant = _family(make_tenant, import_rows)
    ids = _ids(engine, tenant.id)
    _set_status(engine, ids["K3"], "unsubscribed")
    _set_status(engine, ids["K4"], "bounced")
    return tenant, ids


def _ids(engine, account_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The account's contacts by their CRM number."""
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT e.value, e.contact_id FROM external_ids e WHERE e.account_id = :a"),
            {"a": account_id}).all())


def _set_status(engine, contact_id: int, status: str) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET status = :s WHERE id = :c"), {"s": status, "c": contact_id})


def _listed(page: str) -> list[str]:
    """The addresses a contacts page lists, in order."""
    table = page.split('id="contacts"', 1)[1].split("</table>", 1)[0] if 'id="contacts"' in page else ""
    return re.findall(r'<td><a href="/contacts/\d+">([^<]+)</a></td>', table)


def test_every_contact_page_needs_a_signed_in_user(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K1"]
    anonymous = app.test_client()
    for path in ("/contacts", "/contacts/export.csv", f"/contacts/{contact}", f"/contacts/{contact}/edit",
                 f"/contacts/{contact}/resubscribe", f"/contacts/{contact}/erase"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/sign-in?next=" in response.headers["Location"], path
    for path in ("unsubscribe", "erase", "edit", "resubscribe"):
        assert anonymous.post(f"/contacts/{contact}/{path}").status_code in (302, 400), path
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM contacts WHERE id = :c"), {"c": contact}).scalar()
    assert status == "active"


def test_the_list_searches_by_address_or_id_and_says_what_it_searched(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    everyone = web.get("/contacts").get_data(as_text=True)
    # In address order, contacts at one address by id.
    assert _listed(everyone) == ["jan@home.nl", "JAN@home.nl", "kees@example.nl", "piet@example.nl"]
    assert "All contacts" in everyone and 'data-count="all">4<' in everyone
    assert "CRM: K1" in everyone  # the link's label, and the ID

    by_address = web.get("/contacts?q=Jan@Home.NL").get_data(as_text=True)
    assert _listed(by_address) == ["jan@home.nl", "JAN@home.nl"]
    assert "Contacts at the address “Jan@Home.NL”" in by_address
    assert 'id="status-counts"' in everyone and 'id="status-counts"' not in by_address  # the overview's
    by_id = web.get("/contacts?q=K3").get_data(as_text=True)
    assert _listed(by_id) == ["piet@example.nl"]
    assert "Contacts with the ID “K3” in a linked system" in by_id
    nobody = web.get("/contacts?q=K99").get_data(as_text=True)
    assert _listed(nobody) == [] and "No contact matches." in nobody
    assert web.get("/contacts?q=" + "x" * 400).status_code == 400


def test_the_list_filters_by_status_and_counts_each(app, engine, make_tenant, import_rows):
    tenant, ids = _family_opted_out(make_tenant, import_rows, engine)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    page = web.get("/contacts").get_data(as_text=True)
    for status, count in (("all", 4), ("active", 2), ("unsubscribed", 1), ("bounced", 1)):
        assert f'data-count="{status}">{count}<' in page, status
    assert _listed(web.get("/contacts?status=unsubscribed").get_data(as_text=True)) == ["piet@example.nl"]
    assert _listed(web.get("/contacts?status=active&q=jan@home.nl").get_data(as_text=True)) == [
        "jan@home.nl", "JAN@home.nl"]
    assert _listed(web.get("/contacts?status=bounced&q=jan@home.nl").get_data(as_text=True)) == []
    wrong = web.get("/contacts?status=asleep")
    assert wrong.status_code == 400 and b"Unknown status" in wrong.data


def test_the_list_pages_through_both_ways(app, engine, make_tenant, import_rows):
    tenant = make_tenant("many")
    rows = [["email"]] + [[f"person{n:03}@example.nl"] for n in range(120)]
    import_rows(tenant, rows, {"match": {"by": "email"}, "mapping": {"email": "email"}})
    web = signed_in(app, engine, tenant.id, "anna@many.example")
    seen: list[str] = []
    path: str | None = "/contacts"
    pages = []
    while path:
        page = web.get(path).get_data(as_text=True)
        pages.append(path)
        seen += _listed(page)
        found = re.search(r'rel="next" href="([^"]+)"', page)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [row[0] for row in rows[1:]] and len(pages) == 3  # 50 + 50 + 20
    last = web.get(pages[-1]).get_data(as_text=True)
    back = re.search(r'rel="prev" href="([^"]+)"', last)
    assert back
    middle = web.get(back.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert _listed(middle) == seen[50:100]
    assert 'rel="prev"' in middle and 'rel="next"' in middle
    first = web.get(re.search(r'rel="prev" href="([^"]+)"', middle).group(1).replace("&amp;", "&"))
    assert _listed(first.get_data(as_text=True)) == seen[:50]
    assert 'rel="prev"' not in first.get_data(as_text=True)
    # A page after a contact that is gone (erased meanwhile) starts at the beginning.
    assert _listed(web.get("/contacts?after=999999").get_data(as_text=True)) == seen[:50]
    # A filter is kept from page to page.
    filtered = web.get("/contacts?q=person000@example.nl").get_data(as_text=True)
    assert _listed(filtered) == ["person000@example.nl"] and 'rel="next"' not in filtered


def test_a_contacts_page_shows_fields_ids_and_the_history_in_words(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K1"]
    with Session(engine) as session:
        event = ContactEvent(account_id=tenant.id, type="hard_bounce", contact_id=contact)
        soft = ContactEvent(account_id=tenant.id, type="soft_bounce", contact_id=contact)
        session.add_all([event, soft])
        session.flush()
        record_changes(session, tenant.id, [Change(contact, "active", "unsubscribed")],
                       source=StatusSource.API, detail="asked on the phone",
                       at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
        record_changes(session, tenant.id, [Change(contact, "unsubscribed", "bounced")],
                       source=StatusSource.EVENT, source_id=event.id, detail="550 no such user",
                       at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        record_changes(session, tenant.id, [Change(contact, "bounced", "active")],
                       source=StatusSource.UNDO, source_id=3, at=datetime(2026, 3, 3, tzinfo=UTC))
        record_changes(session, tenant.id, [Change(contact, "active", "bounced")],
                       source=StatusSource.EVENT, source_id=soft.id, at=datetime(2026, 3, 4, tzinfo=UTC))
        session.commit()
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    page = web.get(f"/contacts/{contact}").get_data(as_text=True)
    assert "<h1>jan@home.nl</h1>" in page
    for expected in ("First name <span class=\"hint\">(text)</span>", "<dd>Jan</dd>", "<dd>41</dd>",
                     "<dd>2020-01-31</dd>", "<dd>yes</dd>", "<td>K1</td>"):
        assert expected in page, expected
    history = page.split('id="status-history"', 1)[1].split("</table>", 1)[0]
    lines = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>(.*?)</td>\s*<td>([^<]*)</td>",
                       history)
    assert lines == [
        ("2026-03-04 00:00:00 UTC", "Active → Bounced", "event: soft bounce (the third within 30 days)", ""),
        ("2026-03-03 00:00:00 UTC", "Bounced → Active", "undo (of dedup change #3)", ""),
        ("2026-03-02 10:00:00 UTC", "Unsubscribed → Bounced", "event: hard bounce", "550 no such user"),
        ("2026-03-01 09:30:00 UTC", "Active → Unsubscribed", "by hand", "asked on the phone"),
    ]


def test_an_imported_status_links_to_its_import(app, engine, make_tenant, import_rows):
    tenant = make_tenant("shop")
    settings = {"match": {"by": "email"}, "mapping": {"email": "email"}}
    import_rows(tenant, [["email"], ["a@example.nl"]], {**settings, "dry_run": True})  # takes no number
    job = import_rows(tenant, [["email"], ["a@example.nl"]], settings)
    assert job["number"] == 1
    with engine.connect() as conn:
        contact = conn.execute(text("SELECT id FROM contacts WHERE account_id = :a"),
                               {"a": tenant.id}).scalar()
    with Session(engine) as session:
        record_changes(session, tenant.id, [Change(contact, "active", "unsubscribed")],
                       source=StatusSource.IMPORT, source_id=job["id"])
        session.commit()
    web = signed_in(app, engine, tenant.id, "a@shop.example")
    page = web.get(f"/contacts/{contact}").get_data(as_text=True)
    assert f'<a href="/imports/{job["id"]}">import #1</a>' in page  # by its number, at its id


def test_another_accounts_contact_is_the_styled_404(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K1"]
    other = signed_in(app, engine, make_tenant("other").id, "piet@other.example")
    for path in ("", "/edit", "/resubscribe", "/erase"):
        response = other.get(f"/contacts/{contact}{path}")
        assert response.status_code == 404 and b"belongs to another account" in response.data, path
    token = csrf_token(other.get("/contacts"))
    for path, data in (("/unsubscribe", {}), ("/erase", {"confirm": "yes"}), ("/edit", {"email": "x@y.nl"}),
                       ("/resubscribe", {"consent": "yes"})):
        assert other.post(f"/contacts/{contact}{path}", data={"csrf_token": token, **data}).status_code == 404
    assert _listed(other.get("/contacts?q=K1").get_data(as_text=True)) == []
    assert other.get("/contacts/999999").status_code == 404


@pytest.mark.parametrize("path", ["unsubscribe", "erase", "edit", "resubscribe"])
def test_a_change_without_the_csrf_token_is_refused(app, engine, make_tenant, import_rows, path):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K3"]
    _set_status(engine, contact, "unsubscribed") if path == "resubscribe" else None
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    data = {"confirm": "yes", "consent": "signed up again", "email": "new@example.nl"}
    response = web.post(f"/contacts/{contact}/{path}", data=data)
    assert response.status_code == 400 and b"security token" in response.data
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM contacts WHERE id = :c"), {"c": contact}).scalar() == \
            "piet@example.nl"


def test_the_export_download_holds_every_contact(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    response = web.get("/contacts/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(row["email"] for row in rows) == sorted(row[1] for row in FAMILY[1:])


def _post(web, path: str, **data: str):  # type: ignore[no-untyped-def]
    """POST a form of the page at `path` with its own CSRF token."""
    return web.post(path, data={"csrf_token": csrf_token(web.get(path)), **data})


def _edit_form(web, contact: int, **changes: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The edit form as it comes, with `changes` (field.<name>, id.<link>, email) typed in."""
    page = web.get(f"/contacts/{contact}/edit").get_data(as_text=True)
    values = dict(re.findall(r'<input id="[^"]+" name="([^"]+)" (?:type="[^"]+" )?value="([^"]*)"', page))
    values.update(dict(re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', page)))
    for name, options in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        values[name] = chosen.group(1) if chosen else ""
    values.pop("csrf_token", None)
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen, "the form says which version of the contact it shows"
    return {"csrf_token": csrf_token(web.get(f"/contacts/{contact}/edit")), "seen": seen.group(1),
            **values, **changes}


def test_an_edit_names_the_wrong_field_on_the_form_and_changes_nothing(
        app, engine, make_tenant, import_rows, contacts_of):
    tenant = _family(make_tenant, import_rows)
    ids = _ids(engine, tenant.id)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    before = contacts_of(tenant.id)
    cases = [({"field.age": "old"}, "error-field-age", "not a valid number"),
             ({"field.member_since": "31-31-2020"}, "error-field-member_since", "not a valid date"),
             ({"email": "not an address"}, "error-email", "email"),
             ({"id.crm": "X-1"}, "error-id-crm", "'X-1' does not match"),
             ({"id.crm": "K2"}, "error-id-crm", "An ID belongs to one contact")]
    for changes, where, words in cases:
        response = web.post(f"/contacts/{ids['K1']}/edit", data=_edit_form(web, ids["K1"], **changes))
        page = response.get_data(as_text=True)
        assert response.status_code == 400, changes
        found = re.search(rf'<p class="field-error" id="{where}">([^<]+)</p>', page)
        assert found and words in found.group(1).replace("&#39;", "'"), (changes, page[-3000:])
        assert 'aria-invalid="true"' in page
        assert re.search(r'id="edit-error">(age|member_since|E-mail address|CRM): ', page), changes
        for key, value in changes.items():  # what was typed stays in the form
            assert f'value="{value}"' in page.replace("&#34;", '"'), key
    assert contacts_of(tenant.id) == before  # updated_at included


def test_an_edit_saves_what_changed_only(app, engine, make_tenant, import_rows, contacts_of):
    tenant = _family(make_tenant, import_rows)
    ids = _ids(engine, tenant.id)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    before = {c["id"]: c for c in contacts_of(tenant.id)}
    untouched = web.post(f"/contacts/{ids['K1']}/edit", data=_edit_form(web, ids["K1"]))
    assert untouched.status_code == 302
    assert {c["id"]: c for c in contacts_of(tenant.id)} == before  # nothing changed: not even updated_at
    saved = web.post(f"/contacts/{ids['K1']}/edit", data=_edit_form(
        web, ids["K1"], **{"field.age": "41,5", "field.vip": "", "id.crm": "K10", "email": "Jan@Work.nl"}))
    assert saved.status_code == 302 and saved.headers["Location"] == f"/contacts/{ids['K1']}"
    after = {c["id"]: c for c in contacts_of(tenant.id)}[ids["K1"]]
    assert after["email"] == "Jan@work.nl" and after["ids"] == {"crm": "K10"}
    assert after["attributes"] == {"first_name": "Jan", "age": 41.5, "member_since": "2020-01-31"}
    assert after["updated_at"] > before[ids["K1"]]["updated_at"]
    page = web.get(saved.headers["Location"]).get_data(as_text=True)
    assert "The contact is saved." in page and "<dd>41.5</dd>" in page


def test_an_address_conflict_and_an_erased_address_are_said_in_words(app, engine, make_tenant, import_rows):
    tenant = make_tenant("shop")
    import_rows(tenant, [["email"], ["a@example.nl"], ["b@example.nl"], ["gone@example.nl"]],
                {"match": {"by": "email"}, "mapping": {"email": "email"}})
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT email, id FROM contacts WHERE account_id = :a"),
                                {"a": tenant.id}).all())
    web = signed_in(app, engine, tenant.id, "a@shop.example")
    taken = web.post(f"/contacts/{ids['a@example.nl']}/edit",
                     data=_edit_form(web, ids["a@example.nl"], email="B@example.nl"))
    assert taken.status_code == 400 and b"Another contact already has this e-mail address" in taken.data
    assert _post(web, f"/contacts/{ids['gone@example.nl']}/erase", confirm="yes").status_code == 302
    erased = web.post(f"/contacts/{ids['a@example.nl']}/edit",
                      data=_edit_form(web, ids["a@example.nl"], email="gone@example.nl"))
    assert erased.status_code == 400 and b"asked to be forgotten" in erased.data


def test_unsubscribe_by_hand_with_a_note(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K3"]
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    response = web.post(f"/contacts/{contact}/unsubscribe",
                        data={"csrf_token": csrf_token(web.get(f"/contacts/{contact}")), "note": "by letter"})
    assert response.status_code == 302 and response.headers["Location"] == f"/contacts/{contact}"
    page = web.get(f"/contacts/{contact}").get_data(as_text=True)
    assert "is unsubscribed" in page and "by letter" in page and "Active → Unsubscribed" in page
    assert 'id="unsubscribe-form"' not in page and "Re-subscribe…" in page


def test_resubscribe_asks_how_consent_was_given(app, engine, make_tenant, import_rows):
    tenant, ids = _family_opted_out(make_tenant, import_rows, engine)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    path = f"/contacts/{ids['K3']}/resubscribe"
    assert b"How did the person give consent again?" in web.get(path).data
    empty = _post(web, path, consent="  ")
    assert empty.status_code == 400 and b"Say how the person gave consent again" in empty.data
    done = _post(web, path, consent="Signed up again on the website")
    assert done.status_code == 302
    page = web.get(done.headers["Location"]).get_data(as_text=True)
    assert "Unsubscribed → Active" in page and "Signed up again on the website" in page

    bounced = f"/contacts/{ids['K4']}/resubscribe"
    assert b"Only support staff can re-subscribe" in web.get(f"/contacts/{ids['K4']}").data
    refused = _post(web, bounced, consent="fixed the typo")
    assert refused.status_code == 400 and b"Only support staff can re-subscribe it" in refused.data
    support = signed_in(app, engine, tenant.id, "support@family.example", is_admin=True)
    assert _post(support, bounced, consent="fixed the typo").status_code == 302
    assert "Bounced → Active" in support.get(f"/contacts/{ids['K4']}").get_data(as_text=True)


def test_erase_needs_the_confirmation_and_names_the_consequences(app, engine, make_tenant, import_rows,
                                                                  contacts_of):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K3"]
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    page = web.get(f"/contacts/{contact}/erase").get_data(as_text=True)
    for words in ("its fields, its IDs in linked systems and its status history", "send-ledger counts",
                  "one-way hash", "until support staff lift the erasure"):
        assert words in page, words
    unconfirmed = _post(web, f"/contacts/{contact}/erase")
    assert unconfirmed.status_code == 400 and b"Tick the box" in unconfirmed.data
    assert len(contacts_of(tenant.id)) == 4
    erased = _post(web, f"/contacts/{contact}/erase", confirm="yes")
    assert erased.status_code == 302 and erased.headers["Location"] == "/contacts"
    listing = web.get("/contacts").get_data(as_text=True)
    assert f"Contact {contact} is erased" in listing and "piet@example.nl" not in listing
    assert [c["email"] for c in contacts_of(tenant.id)] == ["jan@home.nl", "JAN@home.nl", "kees@example.nl"]
    assert web.get(f"/contacts/{contact}").status_code == 404


def test_merged_ids_find_the_surviving_contact(app, engine, client, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    ids = _ids(engine, tenant.id)
    applied = client.post("/api/v1/dedup/apply", json={"to": "email", "representative": "oldest"},
                          headers=tenant.auth("admin"))
    assert applied.status_code == 200, applied.json
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    found = web.get("/contacts?q=K2").get_data(as_text=True)
    assert _listed(found) == ["jan@home.nl"] and f'href="/contacts/{ids["K1"]}"' in found
    page = web.get(f"/contacts/{ids['K1']}").get_data(as_text=True)
    row = page.split('data-link="crm"', 1)[1].split("</tr>", 1)[0]
    assert "<td>K1</td>" in row and "<td>K2</td>" in row  # its own ID, and the merged contact's


def test_an_edit_of_a_changed_contact_is_refused(app, engine, make_tenant, import_rows, contacts_of):
    tenant = _family(make_tenant, import_rows)
    contact = _ids(engine, tenant.id)["K1"]
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    opened = _edit_form(web, contact, **{"field.age": "42"})
    import_rows(tenant, [["nr", "first_name"], ["K1", "Johannes"]],
                {"match": {"by": "external_id", "link": "crm", "column": "nr"},
                 "mapping": {"first_name": "first_name"}})
    before = contacts_of(tenant.id)
    response = web.post(f"/contacts/{contact}/edit", data=opened)
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "was changed" in page
    assert 'value="Johannes"' in page  # the form shows the contact as it is now
    assert contacts_of(tenant.id) == before  # and the old first name did not come back
    assert web.post(f"/contacts/{contact}/edit", data=_edit_form(web, contact, **{"field.age": "42"})
                    ).status_code == 302
    assert contacts_of(tenant.id)[0]["attributes"]["first_name"] == "Johannes"
