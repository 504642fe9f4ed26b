"""`safeguard worker`: run queued import jobs, without serving HTTP (see service/worker.py)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from typing import Any

import click

from service.cli.context import Context, pass_context
from service.limits import read_limits
from service.worker import Worker

log = logging.getLogger(__name__)


@click.command("worker")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Imports run at once by this process.")
@pass_context
def worker(ctx: Context, concurrency: int) -> None:
    """Run queued import jobs until SIGTERM or Ctrl-C (then let go of them within the grace period)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = ctx.app
    grace = app.config["GRACE_SECONDS"]
    jobs = Worker(ctx.engine, concurrency=concurrency, lease=timedelta(seconds=app.config["LEASE_SECONDS"]),
                  poll_seconds=app.config["POLL_SECONDS"], scratch_dir=app.config["UPLOAD_DIR"],
                  limits=read_limits(app.config), field_indexes=app.config["FIELD_INDEXES"])
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %s: letting go of running imports within %ss", signum, grace)
        jobs.request_stop(grace)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    jobs.start()
    log.info("worker %s runs imports, %s at a time", jobs.name, concurrency)
    while not stop.wait(1.0):
        pass
    jobs.stop(grace)
    ctx.engine.dispose()
    log.info("worker %s stopped", jobs.name)
