"""The Flask service: the HTTP API, the web pages and the command line around the engines."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

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
    """An id in a URL. A number beyond what the database stores names nothing: it is read as 0,
    which no row has, so that the view answers 404 as for any id not found. (Refusing it here
    instead would make Werkzeug answer `DELETE /contacts/<huge>` with a 405, as the path matched
    the GET rule before the converter refused it.)"""

    regex = r"\d{1,10}"  # longer numbers match no rule: 404

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0


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
