"""The Flask service: the HTTP API, the web pages and the command line around the engines."""

from __future__ import annotations

from typing import Any

from flask import Flask

from service import config, db, import_jobs
from service.errors import register_error_handlers


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Make the app; `test_config` overrides the settings read from the environment."""
    app = Flask(__name__)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    db.init_app(app)
    import_jobs.init_app(app)
    register_error_handlers(app)

    from service.api import api
    from service.web import web

    app.register_blueprint(api)
    app.register_blueprint(web)
    return app
