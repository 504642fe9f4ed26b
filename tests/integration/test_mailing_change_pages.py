"""The mailing and imports pages in Dutch, and what the pages refuse: a copy named "Kopie van ...",
the imports page's numbers and checks, the form's live preview kept to the account's own segments,
and a mailing fixed once checked. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

from mailing_helpers import EVERYONE, create_mailing, create_segment, make_account
from page_helpers import csrf_token, signed_in

ROWS = [["K1", "anna@example.nl", "Anna", "Utrecht", "", ""],
        ["K2", "anna@example.nl", "Bert", "Utrecht", "", ""],
        ["K3", "carl@example.nl", "Carl", "Delft", "", ""]]


def _dutch(app, engine, account_id: int, email: str):  # type: ignore[no-untyped-def]
    web = signed_in(app, engine, account_id, email)
    web.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nl-NL,nl;q=0.9"
    return web


def _copy_name(web, client, account, mailing: int) -> str:  # type: ignore[no-untyped-def]
    """Copy the mailing on its page; the copy's name."""
    token = csrf_token(web.get(f"/mailings/{mailing}"))
    copied = web.post(f"/mailings/{mailing}/copy", data={"csrf_token": token})
    assert copied.status_code == 302
    copy = int(re.search(r"/mailings/(\d+)$", copied.headers["Location"]).group(1))
    return str(client.get(f"/api/v1/mailings/{copy}", headers=account.auth()).json["name"])


def test_a_copy_on_a_dutch_page_is_named_kopie_van(app, engine, client, make_tenant, import_rows) -> None:
    account = make_account(make_tenant, import_rows, engine, ROWS, name="huis")
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE, "iedereen")],
                             name="Lente")
    web = _dutch(app, engine, account.id, "eva@huis.example")
    page = web.get(f"/mailings/{mailing}").get_data(as_text=True)
    assert "Kopiëren" in page and "Wijzigen" in page and "K1" in page  # the send list's IDs
    names = [_copy_name(web, client, account, mailing) for _ in range(2)]
    assert names == ["Kopie van Lente", "Kopie van Lente (2)"]
    copy = next(m["id"] for m in client.get("/api/v1/mailings", headers=account.auth()).json["mailings"]
                if m["name"] == "Kopie van Lente")

    # Checked: fixed, said in Dutch; the form and the deletion are refused.
    assert client.post(f"/api/v1/mailings/{mailing}/check", json={"contacts": [account["K3"]]},
                       headers=account.auth("send")).json["results"][0]["verdict"] == "send"
    token = csrf_token(web.get(f"/mailings/{copy}/edit"))
    for response in (web.get(f"/mailings/{mailing}/edit"),
                     web.post(f"/mailings/{mailing}/edit", data={"csrf_token": token, "name": "x",
                                                                  "include": "1"}),
                     web.post(f"/mailings/{mailing}/delete", data={"csrf_token": token, "confirm": "yes"})):
        assert response.status_code == 409
        assert "Deze mailing kan niet meer veranderen" in response.get_data(as_text=True)
    assert client.get(f"/api/v1/mailings/{mailing}", headers=account.auth()).json["name"] == "Lente"


def test_the_form_preview_counts_only_the_accounts_own_segments(app, engine, client, make_tenant,
                                                                 import_rows) -> None:
    account = make_account(make_tenant, import_rows, engine, ROWS, name="huis")
    mine = create_segment(client, account, EVERYONE, "iedereen")
    other = make_account(make_tenant, import_rows, engine, ROWS, name="ander")
    theirs = create_segment(client, other, EVERYONE, "alles")
    web = signed_in(app, engine, account.id, "eva@huis.example")
    headers = {"X-CSRFToken": csrf_token(web.get("/mailings/new"))}
    counted = web.post("/mailings/preview", json={"include": [str(mine)]}, headers=headers)
    assert counted.status_code == 200 and counted.json["preview"]["recipients"] == 2, counted.json
    opted_in = web.post("/mailings/preview", json={"include": [str(mine)], "allow_shared_address": ["yes"]},
                        headers=headers)
    assert opted_in.json["preview"]["recipients"] == 3
    refused = web.post("/mailings/preview", json={"include": [str(theirs)]}, headers=headers)
    assert "preview" not in refused.json and "no segment" in refused.json["error"]["message"]
    nothing = web.post("/mailings/preview", json={}, headers=headers)
    assert nothing.json["error"]["message"] == "Choose at least one segment to send to."
    assert web.post("/mailings/preview", json={"include": [str(mine)]}).status_code == 400  # no token


def test_the_imports_page_in_dutch(app, engine, make_tenant, import_rows) -> None:
    account = make_account(make_tenant, import_rows, engine, ROWS, name="huis")  # import 1
    import_rows(account.tenant, [["KlantNr", "E-mail"], ["K9", "x@example.nl"]],
                {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
                 "mapping": {"E-mail": "email"}, "dry_run": True})
    web = _dutch(app, engine, account.id, "eva@huis.example")
    page = web.get("/imports").get_data(as_text=True)
    assert page.index("Controle van contacts.csv") < page.index("Import 1")  # newest first
    assert "alleen een controle: niets gewijzigd" in page and "Import 2" not in page
    assert web.get("/imports?before=x").status_code == 200
    assert "Nog geen imports." in web.get("/imports?before=1").get_data(as_text=True)
