"""Settings of the service, read from the environment once, when the app is made."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATABASE = Path("var") / "safeguard.db"


def default_database_url() -> str:
    """The embedded default: a SQLite file under ./var, made on first use."""
    return f"sqlite:///{DEFAULT_DATABASE.resolve()}"


def from_environment() -> dict:
    """Build the app configuration from environment variables (with defaults)."""
    upload_mb = int(os.environ.get("SAFEGUARD_MAX_UPLOAD_MB", "200"))
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(),
        "MAX_CONTENT_LENGTH": upload_mb * 1024 * 1024,
        "UPLOAD_DIR": os.environ.get("SAFEGUARD_UPLOAD_DIR") or str(Path("var") / "uploads"),
        "IMPORT_WORKERS": int(os.environ.get("SAFEGUARD_IMPORT_WORKERS", "2")),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or os.urandom(32).hex(),
        # The session cookie: never read by scripts, not sent with another site's requests (on top
        # of the forms' CSRF tokens), and, when served over HTTPS, never sent over plain HTTP.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(os.environ.get("SESSION_COOKIE_SECURE", "")),
    }


def _flag(value: str) -> bool:
    """An on/off environment variable: 1, true, yes or on is on; anything else (or none) off."""
    return value.strip().lower() in ("1", "true", "yes", "on")
