"""`safeguard serve`: the API and the pages under gunicorn, a production WSGI server."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess, values

from service import config, create_app
from service.db import upgrade_if_embedded
from service.metrics import MULTIPROCESS_DIR


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API and pages with gunicorn (a production WSGI server)."""
    settings = config.settings_from_environment()
    # Once, before the workers start, so that they do not race to create the embedded database.
    upgrade_if_embedded(config.from_environment()["DATABASE_URL"])
    with metrics_folder(settings.prometheus_multiproc_dir):
        # Threads let one worker answer progress requests while it runs an import. Each request is
        # logged as a JSON line by the app (service/observability.py): no access log of gunicorn's own.
        _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "threads": 4, "timeout": 600,
                   "child_exit": _worker_exited}).run()


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


def _worker_exited(_server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)
