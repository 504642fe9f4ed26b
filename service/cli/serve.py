"""`safeguard serve`: the API and the pages under gunicorn, a production WSGI server."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from service import config, create_app
from service.db import upgrade_if_embedded


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
    # Once, before the workers start, so that they do not race to create the embedded database.
    upgrade_if_embedded(config.from_environment()["DATABASE_URL"])
    # Threads let one worker answer progress requests while it runs an import.
    _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "threads": 4, "timeout": 600,
               "accesslog": "-"}).run()
