"""Imports and consent: an import never re-subscribes (status_kept), records every status change it
makes in the contacts' history, and rejects the addresses of erased people (erased_address).

Through the HTTP API, on both databases; what is stored is read straight from the database.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from import_helpers import expect, rejections
from page_helpers import signed_in
from sqlalchemy import text
from sqlmodel import Session

from service import background
from service.domain import imports, job_queue
from service.domain.contact_changes import erase_contact
from service.domain.erasures import lift_erasure, record_erasure
from service.models import Account

MAPPING = {"email": "email", "first_name": "first_name", "status": "status"}
MAPPING_NO_STATUS = {"email": "email", "first_name": "first_name"}
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "id"}}
START = [["email", "first_name", "status"],
         ["ann@example.nl", "Ann", "active"],
         ["bob@example.nl", "Bob", "unsubscribed"],
         ["cas@example.nl", "Cas", "bounced"]]


def history(engine, account_id: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    """(address of the contact, from, to, source, source_id) of the account's history, in order."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT coalesce(c.address_key, '#' || CAST(h.contact_id AS text)), h.status_from, h.status_to, "
            "h.source, h.source_id FROM contact_status_history h "
            "LEFT JOIN contacts c ON c.id = h.contact_id WHERE h.account_id = :a ORDER BY h.id"),
            {"a": account_id}).all()
    return [tuple(row) for row in rows]


def statuses(contacts_of, account_id: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c["address_key"]: c["status"] for c in contacts_of(account_id)}


def warning(job: dict, code: str) -> dict | None:
    return next((w for w in job["warnings"] if w["code"] == code), None)


@pytest.fixture
def first_import(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    """An email account: Ann active, Bob unsubscribed, Cas bounced; (the account, its first import)."""
    tenant = make_tenant("shop", "email", fields={"first_name": "text"})
    return tenant, import_rows(tenant, START, {"mapping": MAPPING})


@pytest.fixture
def shop(first_import):  # type: ignore[no-untyped-def]
    return first_import[0]


# --- the history of an import ---------------------------------------------------------------------


def test_new_contacts_that_are_not_active_get_their_first_history_row(first_import, engine):
    shop, job = first_import
    assert history(engine, shop.id) == [
        ("bob@example.nl", None, "unsubscribed", "import", job["id"]),
        ("cas@example.nl", None, "bounced", "import", job["id"]),
    ]
    with engine.connect() as conn:
        at, account_id = conn.execute(text(
            "SELECT at, account_id FROM contact_status_history ORDER BY id LIMIT 1")).one()
    assert account_id == shop.id
    moment = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    assert abs((moment - datetime.now(UTC)).total_seconds()) < 120


def test_an_import_may_unsubscribe_and_bounce_and_the_history_says_so(shop, import_rows, contacts_of, engine):
    before = history(engine, shop.id)
    job = import_rows(shop, [["email", "status"], ["ann@example.nl", "Unsubscribed"],
                             ["bob@example.nl", "bounced"], ["cas@example.nl", "bounced"]],
                      {"mapping": {"email": "email", "status": "status"}})
    expect(job, rows=3, updated=2, unchanged=1)
    assert warning(job, "status_kept") is None
    assert statuses(contacts_of, shop.id) == {"ann@example.nl": "unsubscribed", "bob@example.nl": "bounced",
                                              "cas@example.nl": "bounced"}
    assert history(engine, shop.id) == before + [
        ("ann@example.nl", "active", "unsubscribed", "import", job["id"]),
        ("bob@example.nl", "unsubscribed", "bounced", "import", job["id"]),
    ]


# --- imports never re-subscribe -------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry"])
def test_an_active_row_keeps_unsubscribed_and_bounced(dry_run, shop, import_rows, contacts_of, engine):
    before, contacts_before = history(engine, shop.id), contacts_of(shop.id)
    job = import_rows(shop, [["email", "first_name", "status"], ["ann@example.nl", "Ann", "active"],
                             ["bob@example.nl", "Robert", "active"], ["cas@example.nl", "Cas", "ACTIVE"]],
                      {"mapping": MAPPING, "dry_run": dry_run})
    # Bob's new name applies, his status does not; Cas differs only by the status kept: unchanged.
    expect(job, rows=3, updated=1, unchanged=2, status_kept=2)
    kept = warning(job, "status_kept")
    assert kept is not None and kept["count"] == 2
    assert "2 rows say active" in kept["message"] and "never re-subscribes" in kept["message"]
    assert history(engine, shop.id) == before
    after = {c["address_key"]: c for c in contacts_of(shop.id)}
    if dry_run:
        assert contacts_of(shop.id) == contacts_before
    else:
        assert after["bob@example.nl"]["attributes"] == {"first_name": "Robert"}
    assert {k: c["status"] for k, c in after.items()} == {
        "ann@example.nl": "active", "bob@example.nl": "unsubscribed", "cas@example.nl": "bounced"}


@pytest.mark.parametrize("empty_clears", [False, True], ids=["empty-kept", "empty-clears"])
def test_an_empty_status_cell_says_active_only_when_empty_cells_clear(empty_clears, shop, import_rows,
                                                                      contacts_of, engine):
    before = history(engine, shop.id)
    job = import_rows(shop, [["email", "first_name", "status"], ["ann@example.nl", "Ann", ""],
                             ["bob@example.nl", "Bob", ""], ["cas@example.nl", "Cas", " "]],
                      {"mapping": MAPPING, "empty_clears": empty_clears})
    expect(job, rows=3, unchanged=3, status_kept=2 if empty_clears else 0)
    assert (warning(job, "status_kept") is not None) == empty_clears
    if empty_clears:
        assert "leave the status empty" in warning(job, "status_kept")["message"]  # type: ignore[index]
    assert statuses(contacts_of, shop.id) == {"ann@example.nl": "active", "bob@example.nl": "unsubscribed",
                                              "cas@example.nl": "bounced"}
    assert history(engine, shop.id) == before


def test_without_a_status_column_nothing_is_kept(shop, import_rows, contacts_of):
    job = import_rows(shop, [["email", "first_name"], ["bob@example.nl", "Robert"]],
                      {"mapping": {"email": "email", "first_name": "first_name"}, "empty_clears": True})
    expect(job, rows=1, updated=1)
    assert statuses(contacts_of, shop.id)["bob@example.nl"] == "unsubscribed"


def test_update_only_keeps_and_create_only_skips(shop, import_rows, contacts_of):
    rows = [["email", "first_name", "status"], ["bob@example.nl", "Bob", "active"],
            ["dee@example.nl", "Dee", "active"]]
    job = import_rows(shop, rows, {"mapping": MAPPING, "mode": "update_only"})
    expect(job, rows=2, unchanged=1, skipped=1, status_kept=1)
    job = import_rows(shop, rows, {"mapping": MAPPING, "mode": "create_only"})
    expect(job, rows=2, created=1, skipped=1)
    assert warning(job, "status_kept") is None
    assert statuses(contacts_of, shop.id)["bob@example.nl"] == "unsubscribed"


def test_merged_rows_of_one_contact_count_once(shop, import_rows, contacts_of):
    job = import_rows(shop, [["email", "first_name", "status"], ["bob@example.nl", "", "unsubscribed"],
                             ["Bob@example.nl", "Bobby", "active"]], {"mapping": MAPPING})
    # Later non-empty values win: the merged row says active, which Bob's status outranks.
    expect(job, rows=2, updated=1, merged_in_file=1, status_kept=1)
    assert statuses(contacts_of, shop.id)["bob@example.nl"] == "unsubscribed"


def test_an_external_id_account_keeps_each_contact_at_a_shared_address(make_tenant, import_rows,
                                                                        contacts_of, engine):
    tenant = make_tenant("crm", "external_id", links={"crm": None})
    first = import_rows(tenant, [["id", "email", "status"], ["K1", "jan@home.nl", "unsubscribed"],
                                 ["K2", "JAN@home.nl", "active"], ["K3", "piet@home.nl", "bounced"]],
                        {**BY_CRM, "mapping": {"email": "email", "status": "status"}})
    job = import_rows(tenant, [["id", "email", "status"], ["K1", "jan@home.nl", "active"],
                               ["K2", "jan@home.nl", "unsubscribed"], ["K3", "piet@work.nl", "active"]],
                      {**BY_CRM, "mapping": {"email": "email", "status": "status"}})
    # K1 keeps its status (unchanged), K2 unsubscribes, K3 moves to another address and stays bounced.
    expect(job, rows=3, updated=2, unchanged=1, status_kept=2)
    by_id = {c["ids"]["crm"]: (c["email"], c["status"]) for c in contacts_of(tenant.id)}
    assert by_id == {"K1": ("jan@home.nl", "unsubscribed"), "K2": ("jan@home.nl", "unsubscribed"),
                     "K3": ("piet@work.nl", "bounced")}
    k2 = next(c["id"] for c in contacts_of(tenant.id) if c["ids"]["crm"] == "K2")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT contact_id, status_from, status_to, source_id "
                                 "FROM contact_status_history WHERE account_id = :a ORDER BY id"),
                            {"a": tenant.id}).all()
    assert len(rows) == 3 and all(r[3] == first["id"] for r in rows[:2])
    assert tuple(rows[2]) == (k2, "active", "unsubscribed", job["id"])
    # By address, the shared address is ambiguous: rejected, nothing kept.
    job = import_rows(tenant, [["email", "status"], ["jan@home.nl", "active"]],
                      {"mapping": {"email": "email", "status": "status"}})
    expect(job, rows=1, rejected={"ambiguous_address": 1})


def test_an_id_attached_by_address_keeps_the_status(make_tenant, import_rows, contacts_of, engine):
    # An email account matched by a link's ID: a row with a new ID at a known address attaches it.
    tenant = make_tenant("mail", "email", links={"crm": None})
    import_rows(tenant, [["email", "status"], ["jan@home.nl", "unsubscribed"]],
                {"mapping": {"email": "email", "status": "status"}})
    before = history(engine, tenant.id)
    job = import_rows(tenant, [["id", "email", "status"], ["K1", "Jan@home.nl", "active"]],
                      {**BY_CRM, "mapping": {"email": "email", "status": "status"}})
    expect(job, rows=1, updated=1, status_kept=1)
    (contact,) = contacts_of(tenant.id)
    assert (contact["status"], contact["ids"]) == ("unsubscribed", {"crm": "K1"})
    assert history(engine, tenant.id) == before


def test_the_report_page_shows_the_count_and_the_warning(shop, import_rows, app, engine):
    job = import_rows(shop, [["email", "status"], ["bob@example.nl", "active"]],
                      {"mapping": {"email": "email", "status": "status"}, "dry_run": True})
    page = signed_in(app, engine, shop.id, "owner@shop.example").get(f"/imports/{job['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-count="status_kept"' in html and "status kept" in html
    assert 'data-code="status_kept"' in html


# --- erased addresses -----------------------------------------------------------------------------


def test_an_erased_address_is_rejected_until_the_erasure_is_lifted(make_tenant, import_rows, contacts_of,
                                                                   engine, rejected_rows):
    tenant = make_tenant("erasing", "email", fields={"first_name": "text"})
    other = make_tenant("other", "email", fields={"first_name": "text"})
    with Session(engine) as session:
        record_erasure(session, tenant.id, "sanne@example.nl")
        session.commit()
    rows = [["email", "first_name"], ["ann@example.nl", "Ann"], [" Sanne@Example.NL ", "Sanne"],
            ["SANNE@example.nl", "Sanne"], ["piet@example.nl", "Piet"]]
    settings = {"mapping": {"email": "email", "first_name": "first_name"}}
    job = import_rows(tenant, rows, settings)
    expect(job, rows=4, created=2, rejected={"erased_address": 2})
    assert rejections(rejected_rows, tenant, job) == [(3, "erased_address"), (4, "erased_address")]
    _header, records = rejected_rows(tenant, job["id"])
    assert records[0][3] == " Sanne@Example.NL " and "forgotten" in records[0][2]
    assert {c["address_key"] for c in contacts_of(tenant.id)} == {"ann@example.nl", "piet@example.nl"}
    # The erasure is this account's only.
    expect(import_rows(other, rows, settings), rows=4, created=3, merged_in_file=1)
    with Session(engine) as session:
        assert lift_erasure(session, tenant.id, "sanne@example.nl") == 1
        session.commit()
    job = import_rows(tenant, rows, settings)
    expect(job, rows=4, created=1, unchanged=2, merged_in_file=1)
    assert "sanne@example.nl" in {c["address_key"] for c in contacts_of(tenant.id)}


def test_an_erased_address_is_rejected_when_matching_by_id_too(make_tenant, import_rows, engine):
    tenant = make_tenant("crm", "external_id", links={"crm": None})
    with Session(engine) as session:
        record_erasure(session, tenant.id, "sanne@example.nl")
        session.commit()
    job = import_rows(tenant, [["id", "email"], ["K1", "sanne@example.nl"], ["K2", "ann@example.nl"]],
                      {**BY_CRM, "mapping": {"email": "email"}, "dry_run": True})
    expect(job, rows=2, created=1, rejected={"erased_address": 1})


def test_an_address_erased_while_the_import_runs_is_rejected_at_apply(app, shop, post_import, contacts_of,
                                                                      engine, rejected_rows):
    """The job reads the erasures when it starts; Ann is erased after that, while the file is read:
    the apply, under the import's lock, rejects her row instead of creating her again."""
    ann = next(c["id"] for c in contacts_of(shop.id) if c["address_key"] == "ann@example.nl")
    background.shutdown(app)  # the test is the worker
    rows = [["email", "first_name"], ["ann@example.nl", "Ann"], ["dirk@example.nl", "Dirk"]]
    settings = {"has_header": True, "delimiter": ",", "mapping": MAPPING_NO_STATUS}
    response = post_import(shop, rows, settings, wait=False)
    assert response.status_code == 202, response.json
    job_id = response.json["id"]
    assert job_queue.claim(engine, "test-host:1", timedelta(minutes=5)) == job_id
    erased: list[str] = []

    def erase_once(rows: int, phase: str) -> None:
        if not erased:
            with Session(engine) as session:
                account = session.get(Account, shop.id)
                assert account is not None
                erase_contact(session, account, ann)
            erased.append(phase)

    done = imports.run_job(engine, job_id, worker="test-host:1", on_progress=erase_once)
    assert erased == ["reading"]
    assert done.status == "succeeded", done.error
    job = {"id": done.id, "report": done.report}
    expect(job, rows=2, created=1, rejected={"erased_address": 1})
    assert rejections(rejected_rows, shop, job) == [(2, "erased_address")]  # the file's line
    assert "ann@example.nl" not in {c["address_key"] for c in contacts_of(shop.id)}


def test_an_address_erased_while_a_wizard_draft_holds_it_is_rejected_by_its_import(app, shop, engine,
                                                                                   contacts_of):
    """The draft's stored upload keeps its bytes (README: what an erasure leaves); its import,
    started after the erasure, rejects the address."""
    from page_helpers import signed_in, wizard_draft

    ann = next(c["id"] for c in contacts_of(shop.id) if c["address_key"] == "ann@example.nl")
    client = signed_in(app, engine, shop.id, "anna@shop.example")
    base, token = wizard_draft(client, b"email\r\nann@example.nl\r\nwim@example.nl\r\n")
    steps = [("file", {"encoding": "utf-8", "delimiter": "comma", "has_header": "yes", "action": "next"}),
             ("options", {"mode": "upsert"}), ("external-id", {"link": ""}), ("fields", {"field_0": "email"})]
    for step, form in steps:
        assert client.post(f"{base}/{step}", data={"csrf_token": token, **form}).status_code == 302, step
    assert _ended_job(engine, shop.id)["dry_run"]  # the review's dry run, before the erasure
    with Session(engine) as session:
        account = session.get(Account, shop.id)
        assert account is not None
        erase_contact(session, account, ann)
    assert client.post(f"{base}/review", data={"csrf_token": token}).status_code == 302
    job = _ended_job(engine, shop.id)
    assert not job["dry_run"]
    expect(job, rows=2, created=1, rejected={"erased_address": 1})
    assert {c["address_key"] for c in contacts_of(shop.id)} == {"bob@example.nl", "cas@example.nl",
                                                                 "wim@example.nl"}


def _ended_job(engine, account_id: int) -> dict:  # type: ignore[no-untyped-def]
    """The account's latest import once it has ended (waiting for the app's worker)."""
    deadline = time.monotonic() + 30
    while True:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, dry_run, report FROM imports WHERE account_id = :a "
                                    "ORDER BY id DESC LIMIT 1"), {"a": account_id}).mappings().one()
        if row["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, row
        time.sleep(0.05)
    report = row["report"]
    return {**row, "report": json.loads(report) if isinstance(report, str) else report}
