"""The review step and an import's page (issue 13, item 7): each warning said once (a not-linked
dry run in an external_id account said the same three times: the overall warning and its two parts),
and a badge that says what a running import does instead of "queued"."""

from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime, timedelta

from page_helpers import signed_in
from sqlalchemy import update

from service.models import ImportJob


def _codes(page: str) -> list[str]:
    return re.findall(r'<li class="alert attention" data-code="(\w+)"', page)


def test_a_not_linked_dry_run_says_each_warning_once(app, engine, make_tenant, import_ok):
    tenant = make_tenant("shop", "external_id", links={"crm": None})
    import_ok(tenant, [["nr", "email"], ["K1", "both@example.nl"], ["K2", "both@example.nl"]],
              {"match": {"by": "external_id", "link": "crm", "column": "nr"}, "mapping": {"email": "email"}})
    job = import_ok(tenant, [["email"], ["both@example.nl"], ["new@example.nl"], ["new2@gmial.com"]],
                    {"mapping": {"email": "email"}, "dry_run": True})
    api_codes = [w["code"] for w in job["warnings"]]  # the API keeps the parts, for their counts
    assert {"match_by_email_in_external_id_account", "created_without_external_id",
            "ambiguous_address"} <= set(api_codes)
    page = signed_in(app, engine, tenant.id, "anna@shop.example").get(f"/imports/{job['id']}")
    codes = _codes(page.get_data(as_text=True))
    assert codes == ["match_by_email_in_external_id_account", "possible_typo_domain"]
    assert "2 contacts would be created without an external ID and 1 rows are ambiguous" in page.get_data(
        as_text=True)
    assert "rows have such a domain: row 4." not in page.get_data(as_text=True)  # one row: "1 row has"
    assert "1 row has such a domain: row 4." in page.get_data(as_text=True)


def test_the_badge_says_what_a_running_import_does(app, engine, make_tenant, import_ok):
    tenant = make_tenant("shop")
    job = import_ok(tenant, [["email"], ["a@example.nl"]], {"mapping": {"email": "email"}})
    manager = signed_in(app, engine, tenant.id, "anna@shop.example")

    def badge(status: str, phase: str, dry_run: bool = False, language: str = "en") -> tuple[str, str]:
        with engine.begin() as conn:
            conn.execute(update(ImportJob).where(ImportJob.id == job["id"]).values(
                status=status, phase=phase, dry_run=dry_run, worker=f"{socket.gethostname()}:{os.getpid()}",
                lease_until=datetime.now(UTC) + timedelta(hours=1)))  # a live worker holds it
        headers = {"Accept-Language": language}
        page = manager.get(f"/imports/{job['id']}", headers=headers).get_data(as_text=True)
        shown = re.search(r'<span id="import-status"[^>]*>([^<]*)</span>', page)
        assert shown is not None
        polled = manager.get(f"/imports/{job['id']}/progress", headers=headers).json
        assert polled["badge"] == shown.group(1)  # the poll keeps the badge current with the same words
        return shown.group(1), polled["phase"]

    assert badge("queued", "queued") == ("queued", "queued")
    assert badge("running", "reading") == ("reading the rows", "reading")
    assert badge("running", "applying") == ("applying", "applying")
    assert badge("running", "applying", dry_run=True) == ("checking", "applying")
    assert badge("running", "reading", language="nl-NL")[0] == "rijen lezen"
    assert badge("succeeded", "done")[0] == "succeeded"
