"""The job worker an app runs in its own process (`safeguard serve` without --no-worker, and tests)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app

from service.limits import read_limits
from service.worker import Worker

EXTENSION = "safeguard.worker"


def init_app(app: Flask) -> None:
    """Give the app its worker, started when the app is configured to run jobs (RUN_WORKER)."""
    worker = Worker(app.extensions["safeguard.engine"], concurrency=app.config["IMPORT_WORKERS"],
                    lease=timedelta(seconds=app.config["LEASE_SECONDS"]),
                    poll_seconds=app.config["POLL_SECONDS"], scratch_dir=app.config["UPLOAD_DIR"],
                    limits=read_limits(app.config), field_indexes=app.config["FIELD_INDEXES"])
    app.extensions[EXTENSION] = worker
    if app.config["RUN_WORKER"]:
        worker.start()


def worker_of(app: Flask | None = None) -> Worker:
    worker: Worker = (app or current_app).extensions[EXTENSION]
    return worker


def queued() -> None:
    """A job was queued by this request: this process's worker, if it runs, looks at once."""
    worker_of().wake()


def segments_changed() -> None:
    """A segment was saved, changed or removed by this request: the field indexes follow soon."""
    worker_of().segments_changed()


def shutdown(app: Flask) -> None:
    """Stop the app's worker within the grace period (tests and the server, before the engine goes)."""
    worker_of(app).stop(app.config["GRACE_SECONDS"])
