"""The wizard's pages through the test client: one account's drafts, bad uploads, stale drafts."""

from __future__ import annotations

import io
from datetime import timedelta

from page_helpers import csrf_token, signed_in
from sqlmodel import Session, select

from service.domain import uploads
from service.models import ImportDraft, Upload, utcnow


def _upload(client, content: bytes, name: str = "contacts.csv"):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/imports/new"))
    return client.post("/imports/new", data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_a_draft_of_another_account_is_not_found(app, engine, make_tenant):
    mine = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    theirs = signed_in(app, engine, make_tenant("other").id, "piet@other.example")
    response = _upload(theirs, b"email;name\r\npiet@example.nl;Piet\r\n")
    assert response.status_code == 302
    draft_path = response.headers["Location"]
    assert theirs.get(draft_path).status_code == 200
    for step in ("file", "options", "external-id", "fields", "review"):
        path = draft_path.replace("/file", f"/{step}")
        assert mine.get(path).status_code == 404, path
        page = mine.post(path, data={"csrf_token": csrf_token(mine.get("/"))})
        assert page.status_code == 404 and b"piet" not in page.data, path


def test_an_upload_needs_a_readable_file(app, engine, make_tenant):
    client = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    token = csrf_token(client.get("/imports/new"))
    response = client.post("/imports/new", data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 400 and b"Choose a file" in response.data
    response = _upload(client, b"PK\x03\x04" + bytes(200), "contacts.xlsx")
    assert response.status_code == 400 and b"save it as CSV" in response.data
    assert uploads.count(engine) == (0, 0)  # an unreadable file is not kept


def test_a_wizard_left_unfinished_is_forgotten_with_its_file(app, engine, make_tenant):
    tenant = make_tenant("acme")
    client = signed_in(app, engine, tenant.id, "anna@acme.example")
    assert _upload(client, b"email\r\nanna@example.nl\r\n").status_code == 302
    with Session(engine) as session:
        [old] = session.exec(select(ImportDraft)).all()
        old.created_at = utcnow() - timedelta(days=3)
        session.add(old)
        session.commit()
        old_upload = old.upload_id
    assert old_upload is not None and uploads.count(engine) == (1, 1)
    assert _upload(client, b"email\r\npiet@example.nl\r\n").status_code == 302
    with Session(engine) as session:
        [new] = session.exec(select(ImportDraft)).all()
        stored = session.exec(select(Upload.id)).all()
    assert new.upload_id != old_upload
    assert stored == [new.upload_id]  # the old draft's file went with it


def test_a_step_opened_before_the_steps_it_needs_leads_back_to_the_first_undone(app, engine, make_tenant):
    """Typing a later step's address (or an old bookmark) used to reach the review with no options
    chosen, and the review page answered 500."""
    client = signed_in(app, engine, make_tenant("acme").id, "anna@acme.example")
    draft_path = _upload(client, b"email;name\r\nanna@example.nl;Anna\r\n").headers["Location"]
    for step in ("options", "external-id", "fields", "review"):
        response = client.get(draft_path.replace("/file", f"/{step}"))
        assert response.status_code == 302 and response.headers["Location"].endswith("/file"), step
    client.post(draft_path, data={"csrf_token": csrf_token(client.get(draft_path)), "encoding": "utf-8",
                                  "delimiter": "semicolon", "has_header": "yes"})
    fields = draft_path.replace("/file", "/fields")
    response = client.post(fields, data={"csrf_token": csrf_token(client.get("/")), "field_0": "email"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/options")
    response = client.get(draft_path.replace("/file", "/review"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/options")
