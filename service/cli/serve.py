"""`safeguard serve`: the API and the pages under gunicorn, a production WSGI server, with a job
worker in each of its processes unless `--no-worker`.

On SIGTERM gunicorn stops taking requests and lets the running ones finish within the grace period
(SAFEGUARD_GRACE_SECONDS); the hooks below make each process's job worker let go of its imports in
that same period (service/worker.py), so that nothing is left running.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess, values

from service import background, config, create_app
from service.db import upgrade_if_embedded
from service.metrics import MULTIPROCESS_DIR


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any], app_config: dict[str, Any]) -> None:
        self.options, self.app_config = options, app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(self.app_config)


def _post_worker_init(worker: Any) -> None:
    """In each HTTP process: its job worker hears SIGTERM as soon as gunicorn does."""
    app: Flask = worker.wsgi
    gunicorn_handler = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        background.worker_of(app).request_stop(app.config["GRACE_SECONDS"])
        if callable(gunicorn_handler):
            gunicorn_handler(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def _worker_exit(_server: Any, worker: Any) -> None:
    """The HTTP process is ending (its requests done): its job worker lets go, within the grace period."""
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        background.shutdown(app)


def _child_exit(_server: Any, worker: Any) -> None:
    """A worker process ended: its metrics files stop counting as live (prometheus multiprocess)."""
    multiprocess.mark_process_dead(worker.pid)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="HTTP processes.")
@click.option("--worker/--no-worker", "run_worker", default=True, show_default=True,
              help="Run import jobs in these processes too (--no-worker: HTTP only; run `safeguard "
                   "worker` elsewhere).")
def serve(host: str, port: int, workers: int, run_worker: bool) -> None:
    """Serve the API and pages with gunicorn (a production WSGI server), and run import jobs."""
    settings = config.settings_from_environment()
    app_settings = config.from_environment()
    # Once, before the workers start, so that they do not race to create the embedded database.
    upgrade_if_embedded(app_settings["DATABASE_URL"])
    with metrics_folder(settings.prometheus_multiproc_dir):
        # Threads let one process answer progress requests while it runs an import. Each request is
        # logged as a JSON line by the app (service/observability.py): no access log of gunicorn's own.
        _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "threads": 4, "timeout": 600,
                   "graceful_timeout": int(app_settings["GRACE_SECONDS"]),
                   # gunicorn 25+ opens a control socket at one path per user ($HOME/.gunicorn): a
                   # second server on the same host would take it over from the first.
                   "control_socket_disable": True,
                   "post_worker_init": _post_worker_init, "worker_exit": _worker_exit,
                   "child_exit": _child_exit},
                  {"RUN_WORKER": run_worker}).run()


@contextmanager
def metrics_folder(given: str) -> Iterator[Path]:
    """Turn on prometheus-client's multiprocess mode for the workers about to start.

    Each worker writes its metrics to files in one folder, and /metrics sums them, whichever
    worker answers. The folder is emptied first (values of an earlier run must not count); one
    that serve made itself is removed at the end.
    """
    made = not given
    folder = Path(given or tempfile.mkdtemp(prefix="safeguard-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR] = str(folder)
    # prometheus-client picks its mode when it is imported, which the command line did before it
    # knew it would serve: pick again, before any worker makes a value (every metric has labels,
    # so none made one yet).
    values.ValueClass = values.get_value_class()
    try:
        yield folder
    finally:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
