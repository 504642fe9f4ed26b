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
        # Import jobs run by each process's worker at once, and the queue's timing (see service/worker.py).
        "IMPORT_WORKERS": int(os.environ.get("SAFEGUARD_IMPORT_WORKERS", "2")),
        "RUN_WORKER": False,  # `safeguard serve` turns it on (unless --no-worker)
        "LEASE_SECONDS": float(os.environ.get("SAFEGUARD_LEASE_SECONDS", "30")),
        "POLL_SECONDS": float(os.environ.get("SAFEGUARD_POLL_SECONDS", "1")),
        "GRACE_SECONDS": float(os.environ.get("SAFEGUARD_GRACE_SECONDS", "30")),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or os.urandom(32).hex(),
    }
