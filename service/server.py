"""Running the app under gunicorn, from `safeguard serve`."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from service import config, create_app
from service.db import upgrade_if_embedded


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        return create_app()


def serve(host: str, port: int, workers: int) -> None:
    # Once, before the workers start, so that they do not race to create the embedded database.
    upgrade_if_embedded(config.from_environment()["DATABASE_URL"])
    # Threads let one worker answer progress requests while it runs an import.
    _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "threads": 4, "timeout": 600,
               "accesslog": "-"}).run()
