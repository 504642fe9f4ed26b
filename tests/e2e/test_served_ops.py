"""Keys, metrics and logs of `safeguard serve` as users run it: gunicorn with two worker processes,
and two instances on one database that share nothing else."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from served import HttpClient, free_port, safeguard_command, serving

REQUESTS = 30


@pytest.fixture
def instances(database_url: str, tmp_path: Path) -> Iterator[list[tuple[HttpClient, Path, Path]]]:
    """Two `safeguard serve` instances (two workers each) on the test database, each with its own
    folders: (client, log file, metrics folder)."""
    with ExitStack() as stack:
        started = []
        for name in ("one", "two"):
            port, folder = free_port(), tmp_path / name
            env = {**os.environ, "DATABASE_URL": database_url,
                   "SAFEGUARD_UPLOAD_DIR": str(folder / "uploads"),
                   "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics")}
            env.pop("SAFEGUARD_LOG_LEVEL", None)
            log = folder / "server.log"
            folder.mkdir()
            command = [*safeguard_command(), "serve", "--port", str(port), "--workers", "2"]
            client = stack.enter_context(serving(command, port=port, env=env, log=log))
            started.append((client, log, folder / "metrics"))
        yield started


def _requests_counted(client: HttpClient, endpoint: str, status: str) -> float:
    answer = client.request("GET", "/metrics")
    assert answer.status == 200
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if (sample.name == "safeguard_http_requests_total" and sample.labels["endpoint"] == endpoint
                    and sample.labels["status"] == status):
                return sample.value
    return 0.0


def test_two_instances_keys_metrics_and_logs(instances, make_tenant):
    (one, one_log, one_metrics), (two, _, _) = instances
    tenant = make_tenant()
    admin = tenant.keys["admin"]

    # A key made and used on one instance, revoked there, is refused by the other at its next use.
    status, made = one.json("POST", "/api/v1/keys", key=admin, payload={"name": "mailer", "scope": "send"})
    assert status == 201, made
    assert two.json("GET", "/api/v1/account", key=made["key"])[0] == 200
    assert one.request("DELETE", f"/api/v1/keys/{made['id']}", key=admin).status == 204
    status, refused = two.json("GET", "/api/v1/account", key=made["key"])
    assert status == 401 and refused["error"]["message"] == "this API key was revoked"
    status, listed = two.json("GET", "/api/v1/keys", key=admin)
    mailer = next(key for key in listed["keys"] if key["id"] == made["id"])
    assert mailer["revoked_at"] is not None and mailer["last_used_at"] is not None

    # /metrics sums both workers of an instance, whichever one answers the scrape.
    before = _requests_counted(one, "/api/v1/account", "200")
    for _ in range(REQUESTS):
        assert one.request("GET", "/api/v1/account", key=tenant.keys["manage"]).status == 200
    scrapes = {_requests_counted(one, "/api/v1/account", "200") for _ in range(6)}
    assert scrapes == {before + REQUESTS}
    assert len({path.name.split("_")[-1] for path in one_metrics.glob("*.db")}) >= 1
    assert one.request("GET", "/healthz").status == 200 and one.request("GET", "/readyz").status == 200

    # The log: a JSON line per request with its id, and never the key.
    answer = one.request("GET", "/api/v1/account", key=tenant.keys["manage"])
    text = one_log.read_text(errors="replace")
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("logger") == "safeguard.requests"]
    assert len(requests) >= REQUESTS + 6
    mine = [line for line in requests if line["request_id"] == answer.headers["X-Request-ID"]]
    assert len(mine) == 1 and mine[0]["status"] == 200 and mine[0]["account_id"] == tenant.id
    for key in (admin, tenant.keys["manage"], made["key"]):
        assert key not in text
