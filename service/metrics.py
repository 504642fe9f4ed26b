"""The service's Prometheus metrics, and /metrics' text.

Counters and histograms follow Prometheus' conventions (`safeguard_` prefix, base units,
`_total` on counters, labels of few values: an endpoint is its route, never the URL). Under gunicorn
every worker process keeps its own values; `safeguard serve` turns on prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, see service/cli/serve.py), so that /metrics sums every
worker whichever one answers. Each metric has labels, so that no value is made before that mode is
chosen. What the database knows (jobs queued and running) is read from it at each scrape, so every
instance tells the same.

The entry points count what they answer through the functions below (`count_events` is for the
events endpoint); nothing here knows Flask.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from service.models import ImportJob, ImportStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The import report's parts that say what became of each row.
ROW_OUTCOMES = ("created", "updated", "unchanged", "skipped", "merged_in_file", "rejected")

# A `_created` series beside every counter doubles the text for no use of ours (and multiprocess
# mode has none): leave them out in every mode alike.
disable_created_metrics()

HTTP_REQUESTS = Counter("safeguard_http_requests", "HTTP requests answered, by route and status.",
                        ["method", "endpoint", "status"])
HTTP_DURATION = Histogram("safeguard_http_request_duration_seconds",
                          "Time to answer an HTTP request (to its first byte, for a streamed answer).",
                          ["method", "endpoint"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
IMPORTS = Counter("safeguard_imports", "Import jobs ended, by status (succeeded, failed) and dry run.",
                  ["status", "dry_run"])
IMPORT_ROWS = Counter("safeguard_import_rows", "Rows of the import jobs that succeeded, by outcome.",
                      ["outcome", "dry_run"])
IMPORT_JOBS_RETRIED = Counter("safeguard_import_jobs_retried",
                              "Import jobs taken again after their worker stopped.", ["reason"])
CHECK_VERDICTS = Counter("safeguard_check_verdicts",
                         "Pre-send check answers per recipient, by verdict and skip reason.",
                         ["verdict", "reason"])
EVENTS = Counter("safeguard_events", "Mailing-system events received, by type and status.",
                 ["type", "status"])


def observe_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    """Count an answered request and its latency."""
    HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
    HTTP_DURATION.labels(method, endpoint).observe(seconds)


def count_import(status: str, report: Mapping[str, Any] | None, *, dry_run: bool) -> None:
    """Count an import job that ended, and (when it succeeded) its rows by outcome."""
    flag = "true" if dry_run else "false"
    IMPORTS.labels(status, flag).inc()
    for outcome in ROW_OUTCOMES:
        rows = (report or {}).get(outcome, 0)
        if rows:
            IMPORT_ROWS.labels(outcome, flag).inc(rows)


def count_job_retried(reason: str = "lease_expired") -> None:
    """Count an import job taken again by a worker."""
    IMPORT_JOBS_RETRIED.labels(reason).inc()


def count_verdicts(results: Iterable[Mapping[str, Any]]) -> None:
    """Count a check's answers: `send`, or `skip` with its reason."""
    # Counted by the answers' own values (a C loop), made labels once per kind.
    counts = Tally((result.get("verdict"), result.get("reason")) for result in results)
    for (verdict, reason), count in counts.items():
        CHECK_VERDICTS.labels(str(verdict), str(reason or "")).inc(count)


def count_events(type_: str, status: str, count: int = 1) -> None:
    """Count events of the mailing system by type (unsubscribe, hard_bounce, ...) and how they ended."""
    EVENTS.labels(type_, status).inc(count)


class JobsCollector(Collector):
    """Import jobs queued and running, read from the database at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("safeguard_import_jobs", "Import jobs waiting or running now, by status.",
                                  labels=["status"])
        waiting = (ImportStatus.QUEUED, ImportStatus.RUNNING)
        try:
            with self.engine.connect() as conn:
                counts = dict(conn.execute(
                    select(col(ImportJob.status), func.count()).where(col(ImportJob.status).in_(waiting))
                    .group_by(col(ImportJob.status))).all())
        except SQLAlchemyError:
            return  # the database is away: /readyz says so; the process' own metrics still answer
        for status in waiting:
            gauge.add_metric([status.value], counts.get(status, 0))
        yield gauge


def exposition(engine: Engine, multiprocess_dir: str | None) -> bytes:
    """The text of /metrics: this process' metrics (or, in multiprocess mode, every worker's in
    `multiprocess_dir`), then the database's."""
    if multiprocess_dir:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=multiprocess_dir)
        own = generate_latest(processes)
    else:
        own = generate_latest(REGISTRY)
    from_database = CollectorRegistry()
    from_database.register(JobsCollector(engine))
    return own + generate_latest(from_database)
