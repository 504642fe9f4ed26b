"""The Flask service: the HTTP API, the web pages and the command line around the engines."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from service import (
    background,
    config,
    db,
    observability,
    proxies,
    request_checks,
    safe_json,
    security_headers,
    web,
)
from service.api import api
from service.api.probes import probes
from service.http_errors import register_error_handlers
from service.models import MAX_ID


class StoredId(IntegerConverter):
    """An id in a URL: a number beyond what the database stores is a 404, not a query error."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Make the app; `test_config` overrides the settings read from the environment."""
    app = Flask(__name__)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    proxies.init_app(app)
    observability.init_app(app)
    safe_json.init_app(app)
    request_checks.init_app(app)
    security_headers.init_app(app)
    db.init_app(app)
    background.init_app(app)
    register_error_handlers(app)
    # Before the blueprints: their rules take the converter when they are registered.
    app.url_map.converters["int"] = StoredId
    app.register_blueprint(api)
    app.register_blueprint(probes)
    web.init_app(app, exempt=[api])
    return app
