"""Metrics after real requests, checks and imports; one JSON log line per request and per import
step, without a key, a password or an address; the X-Request-ID taken or made, and returned."""

from __future__ import annotations

import json
import logging
import re

import pytest
from mailing_helpers import EVERYONE, create_mailing, create_segment, make_account, verdicts
from page_helpers import PASSWORD, signed_in
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from service import metrics
from service.logs import JsonFormatter
from service.models import ImportJob

Samples = dict[tuple[str, frozenset], float]


def scrape(client) -> Samples:  # type: ignore[no-untyped-def]
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def grown(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_requests_are_counted_by_route_and_status_with_latencies(client, make_tenant):
    tenant = make_tenant()
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/account", headers=tenant.auth()).status_code == 200
    assert client.get("/api/v1/account").status_code == 401
    assert client.get("/api/v1/imports/12345", headers=tenant.auth()).status_code == 404
    after = scrape(client)
    route = {"method": "GET", "endpoint": "/api/v1/account"}
    assert grown(before, after, "safeguard_http_requests_total", **route, status="200") == 3
    assert grown(before, after, "safeguard_http_requests_total", **route, status="401") == 1
    assert grown(before, after, "safeguard_http_requests_total", method="GET",
                 endpoint="/api/v1/imports/<int:import_id>", status="404") == 1
    assert grown(before, after, "safeguard_http_request_duration_seconds_count", **route) == 4
    assert grown(before, after, "safeguard_http_request_duration_seconds_bucket", **route, le="+Inf") == 4
    assert grown(before, after, "safeguard_http_request_duration_seconds_sum", **route) > 0


def test_imports_count_their_rows_by_outcome(client, make_tenant, import_ok, post_import):
    tenant = make_tenant()
    before = scrape(client)
    job = import_ok(tenant, [["email"], ["a@example.nl"], ["b@example.nl"], ["not an address"]])
    again = import_ok(tenant, [["email"], ["a@example.nl"]], {"dry_run": True})
    # Not UTF-8 past the part that the detection reads: the job fails half-way.
    broken = (b"email\r\n" + b"".join(b"person%d@example.nl\r\n" % i for i in range(6000))
              + b"caf\xe9@example.nl\r\n")
    failed = post_import(tenant, broken)
    assert failed.json["status"] == "failed", failed.json
    after = scrape(client)
    assert grown(before, after, "safeguard_imports_total", status="succeeded", dry_run="false") == 1
    assert grown(before, after, "safeguard_imports_total", status="succeeded", dry_run="true") == 1
    assert grown(before, after, "safeguard_imports_total", status="failed", dry_run="false") == 1
    for outcome in ("created", "rejected"):
        assert grown(before, after, "safeguard_import_rows_total", outcome=outcome,
                     dry_run="false") == job["report"][outcome]
    assert grown(before, after, "safeguard_import_rows_total", outcome="unchanged",
                 dry_run="true") == again["report"]["unchanged"] == 1


def test_check_verdicts_are_counted_by_reason(client, make_tenant, import_rows, engine):
    account = make_account(make_tenant, import_rows, engine, [
        ["1", "sanne@example.nl", "Sanne", "Utrecht", "false", ""],
        ["2", "sanne@example.nl", "Piet", "Utrecht", "false", ""],
        ["3", "jan@example.nl", "Jan", "Utrecht", "false", ""]])
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    before = scrape(client)
    answers = verdicts(client, account, mailing, [account["1"], account["2"], account["3"]])
    answers += verdicts(client, account, mailing, [account["3"], 999999])
    after = scrape(client)
    expected: dict[tuple[str, str], int] = {}
    for answer in answers:
        labels = (answer["verdict"], answer.get("reason") or "")
        expected[labels] = expected.get(labels, 0) + 1
    assert len(expected) >= 3  # send, and skips for at least two reasons
    for (verdict, reason), count in expected.items():
        assert grown(before, after, "safeguard_check_verdicts_total", verdict=verdict, reason=reason) == count


def test_jobs_waiting_are_read_from_the_database_and_events_counted(client, make_tenant, engine):
    tenant = make_tenant()
    with Session(engine) as session:
        for status in ("queued", "queued", "running", "succeeded"):
            session.add(ImportJob(account_id=tenant.id, filename="f.csv", settings={}, columns=[],
                                  worker="elsewhere", status=status))
        session.commit()
    before = scrape(client)
    assert before[("safeguard_import_jobs", frozenset({("status", "queued")}))] == 2
    assert before[("safeguard_import_jobs", frozenset({("status", "running")}))] == 1
    metrics.count_events("unsubscribe", "applied", 2)
    metrics.count_job_retried()
    after = scrape(client)
    assert grown(before, after, "safeguard_events_total", type="unsubscribe", status="applied") == 2
    assert grown(before, after, "safeguard_import_jobs_retried_total", reason="lease_expired") == 1


def test_reported_events_are_counted_by_type_and_status(client, make_tenant, import_ok):
    tenant = make_tenant()
    import_ok(tenant, [["email"], ["sanne@example.nl"]])
    send = {"Authorization": f"Bearer {tenant.keys['send']}"}
    before = scrape(client)
    events = [{"type": "hard_bounce", "address": "sanne@example.nl", "event_id": "e1"},
              {"type": "hard_bounce", "address": "sanne@example.nl", "event_id": "e1"},
              {"type": "made_up", "address": "sanne@example.nl"}]
    assert client.post("/api/v1/events", json={"events": events}, headers=send).status_code == 200
    after = scrape(client)
    assert grown(before, after, "safeguard_events_total", type="hard_bounce", status="applied") == 1
    assert grown(before, after, "safeguard_events_total", type="hard_bounce", status="duplicate") == 1
    assert grown(before, after, "safeguard_events_total", type="other", status="invalid") == 1


# --- logs ---------------------------------------------------------------------------------------


def _lines(caplog) -> list[dict]:  # type: ignore[no-untyped-def]
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_one_json_line_per_request_without_secrets(app, engine, client, make_tenant, import_ok, caplog):
    caplog.set_level(logging.INFO)
    tenant = make_tenant()
    key = tenant.keys["manage"]
    import_ok(tenant, [["email"], ["sanne@example.nl"]])
    contact = client.get("/api/v1/contacts?address=sanne@example.nl", headers=tenant.auth())
    assert contact.status_code == 200 and contact.json["contacts"]
    assert client.get("/api/v1/contacts/sanne@example.nl", headers=tenant.auth()).status_code == 404
    browser = signed_in(app, engine, tenant.id, "manager@example.nl")
    assert browser.get("/").status_code == 200
    lines = _lines(caplog)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (key, PASSWORD, "sanne@example.nl", "manager@example.nl", "sanne%40example.nl"):
        assert secret not in text, secret
    requests = [line for line in lines if line["logger"] == "safeguard.requests"]
    assert len(requests) == 6  # import, contacts, contact, sign-in form, sign-in, home
    listed = next(line for line in requests if line["endpoint"] == "/api/v1/contacts")
    assert listed["method"] == "GET" and listed["path"] == "/api/v1/contacts"
    assert listed["status"] == 200 and listed["account_id"] == tenant.id
    assert isinstance(listed["duration_ms"], float) and listed["duration_ms"] >= 0
    assert re.fullmatch(r"[0-9a-f]{32}", listed["request_id"])
    assert len({line["request_id"] for line in requests}) == len(requests)
    unmatched = next(line for line in requests if line["status"] == 404)
    assert unmatched["path"] == "/api/v1/contacts/***"
    home = requests[-1]
    assert (home["path"], home["status"], home["account_id"]) == ("/", 200, tenant.id)


def test_an_import_logs_each_step(make_tenant, import_ok, caplog):
    caplog.set_level(logging.INFO)
    tenant = make_tenant()
    job = import_ok(tenant, [["email"], ["sanne@example.nl"], ["piet@example.nl"]])
    steps = [line for line in _lines(caplog) if line["logger"] == "safeguard.jobs"]
    assert [line["step"] for line in steps] == ["started", "applying", "succeeded"]
    assert {line["job_id"] for line in steps} == {job["id"]}
    assert {line["account_id"] for line in steps} == {tenant.id}
    assert steps[-1]["rows_done"] == 2 and steps[-1]["error"] is None
    assert "sanne@example.nl" not in json.dumps(steps)


@pytest.mark.parametrize(("sent", "kept"), [
    ("trace-42.a:b_c", True),
    ("x" * 64, True),
    ("x" * 65, False),
    ("two words", False),
    ('{"forged": "line"}', False),
    ("sanne@example.nl", False),
    ("", False),
])
def test_the_request_id_is_taken_when_plain_or_made(client, caplog, sent, kept):
    caplog.set_level(logging.INFO, logger="safeguard.requests")
    headers = {"X-Request-ID": sent} if sent else {}
    response = client.get("/healthz", headers=headers)
    answered = response.headers["X-Request-ID"]
    if kept:
        assert answered == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", answered)
    assert [line["request_id"] for line in _lines(caplog)] == [answered]


def test_an_error_answer_carries_the_request_id_too(client):
    response = client.get("/api/v1/account", headers={"X-Request-ID": "abc"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "abc"
