"""The key that signs session cookies and CSRF tokens, the same in every process.

`safeguard serve` runs several worker processes (and PostgreSQL users run several hosts): a
random key per process would sign a user out whenever another process answers. The app's
SECRET_KEY (from the environment's SECRET_KEY, see service/config.py) wins; without it, one random
key is kept in the database.
"""

from __future__ import annotations

import threading

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from service.domain.app_secrets import stored_secret

SECRET_NAME = "session"
# The API authenticates by key; the probes must answer without the database (healthz) or before
# the stored key can be read (readyz on a database not yet migrated).
SESSIONLESS = ("/api/", "/healthz", "/readyz", "/metrics")


def init_app(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    app.extensions["safeguard.secret_lock"] = threading.Lock()
    app.session_interface = SharedSecretSessions()


class SharedSecretSessions(SecureCookieSessionInterface):
    """Cookie sessions whose key is read from the database on first use.

    The API authenticates by key and has no session: its requests never need the key (and so
    never wait for the database to store it).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS):
            return None  # Flask gives the request an empty session that is never saved
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.extensions.get("safeguard.secret_loaded"):
            with app.extensions["safeguard.secret_lock"]:
                if not app.extensions.get("safeguard.secret_loaded"):
                    app.secret_key = shared_secret(app)
                    app.extensions["safeguard.secret_loaded"] = True
        return super().get_signing_serializer(app)


def shared_secret(app: Flask) -> str:
    """The stored key, made by whichever process asks first."""
    return stored_secret(app.extensions["safeguard.engine"], SECRET_NAME)
