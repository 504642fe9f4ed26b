"""Settings of the service: every environment variable it reads, typed, with its default, in one place.

`Settings` is read from the environment once, when an app is made (pydantic-settings: the same
pydantic models the API uses, so a bad value is refused at start with the variable's name and why,
instead of a ValueError deep in a request). Nothing else in the service reads `os.environ`; the
app's config (`app.config`) carries the values, and tests override them through `create_app`.
README.md, "Settings", lists each variable with its default; tests/unit/test_config.py keeps the two
the same.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from segments.rules import DEEPEST

DEFAULT_DATABASE = Path("var") / "safeguard.db"


def default_database_url() -> str:
    """The embedded default: a SQLite file under ./var, made on first use."""
    return f"sqlite:///{DEFAULT_DATABASE.resolve()}"


class Settings(BaseSettings):
    """The environment variables; each field's alias is the variable's name."""

    # Field names are the variables' own: no prefix, so DATABASE_URL and SECRET_KEY keep their
    # customary names beside the SAFEGUARD_ ones.
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "", alias="DATABASE_URL",
        description="The database; empty means the embedded SQLite file var/safeguard.db.")
    secret_key: str = Field(
        "", alias="SECRET_KEY",
        description="Signs session cookies and CSRF tokens; empty means a random key kept in the database.")
    max_upload_mb: int = Field(
        200, alias="SAFEGUARD_MAX_UPLOAD_MB", ge=1,
        description="The largest upload (a request body), in megabytes.")
    max_file_mb: int = Field(
        4096, alias="SAFEGUARD_MAX_FILE_MB", ge=1,
        description="The largest contact file, decompressed, in megabytes (10 million contacts are 1 to 2 "
                    "GB).")
    max_expansion: float = Field(
        100, alias="SAFEGUARD_MAX_EXPANSION", ge=2,
        description="How many times a compressed file may expand (contact files 5 to 10); past it, a bomb, "
                    "refused as soon as it shows it.")
    max_rows: int = Field(
        20_000_000, alias="SAFEGUARD_MAX_ROWS", ge=1,
        description="The most rows (blank ones included) one import reads.")
    max_columns: int = Field(
        500, alias="SAFEGUARD_MAX_COLUMNS", ge=1,
        description="The most columns of a contact file.")
    max_line_kb: int = Field(
        1024, alias="SAFEGUARD_MAX_LINE_KB", ge=1,
        description="The longest line (or row with line breaks in quoted cells) of a contact file, in "
                    "KiB of characters.")
    max_rule_depth: int = Field(
        20, alias="SAFEGUARD_MAX_RULE_DEPTH", ge=1, le=DEEPEST,
        description="How deep a rule tree (segments, previews, a representative's `when`) may nest; at "
                    "most 40, which JSON's own nesting limit leaves room for.")
    max_rule_conditions: int = Field(
        500, alias="SAFEGUARD_MAX_RULE_CONDITIONS", ge=1,
        description="The most conditions and groups of one rule tree.")
    max_batch: int = Field(
        10_000, alias="SAFEGUARD_MAX_BATCH", ge=1,
        description="The most contacts or addresses of one check, release or confirm, and events of one "
                    "batch.")
    max_body_mb: int = Field(
        16, alias="SAFEGUARD_MAX_BODY_MB", ge=1,
        description="The largest request body other than an upload, in megabytes.")
    upload_dir: str = Field(
        str(Path("var") / "uploads"), alias="SAFEGUARD_UPLOAD_DIR",
        description="Where uploads wait for their import job.")
    import_workers: int = Field(
        2, alias="SAFEGUARD_IMPORT_WORKERS", ge=1,
        description="Import jobs that one process runs at once.")
    lease_seconds: float = Field(
        30, alias="SAFEGUARD_LEASE_SECONDS", gt=0,
        description="How long a worker's hold on a running job lasts unless renewed; a job whose lease "
                    "ran out is taken again by another worker.")
    field_indexes: bool = Field(
        True, alias="SAFEGUARD_FIELD_INDEXES",
        description="Workers index the fields that saved segments test (one index per account and field), "
                    "so that previews and send lists on a field read only the matching contacts; each index "
                    "makes imports into its account a little slower.")
    poll_seconds: float = Field(
        1, alias="SAFEGUARD_POLL_SECONDS", gt=0,
        description="How often an idle worker looks for queued jobs.")
    grace_seconds: float = Field(
        30, alias="SAFEGUARD_GRACE_SECONDS", ge=0,
        description="After SIGTERM: how long running requests may finish and jobs may let go.")
    sign_in_failures: int = Field(
        10, alias="SAFEGUARD_SIGN_IN_FAILURES", ge=1,
        description="Failed sign-ins per e-mail address within the window; then sign-in with that address "
                    "is refused (429), the right password too, until the window ends.")
    sign_in_client_failures: int = Field(
        50, alias="SAFEGUARD_SIGN_IN_CLIENT_FAILURES", ge=1,
        description="Failed sign-ins per client (IP) address within the window, whatever e-mail addresses "
                    "they tried; then that client's sign-ins are refused until the window ends.")
    sign_in_window_seconds: float = Field(
        900, alias="SAFEGUARD_SIGN_IN_WINDOW_SECONDS", gt=0,
        description="The window in which failed sign-ins are counted, in seconds.")
    trusted_proxies: int = Field(
        0, alias="SAFEGUARD_TRUSTED_PROXIES", ge=0,
        description="Reverse proxies (load balancers) in front of the service that add X-Forwarded-For: "
                    "the client address that sign-in limits count is the one they saw; 0 ignores the header.")
    uploads_per_window: int = Field(
        60, alias="SAFEGUARD_UPLOADS_PER_WINDOW", ge=1,
        description="Uploads (imports, inspections, wizard files) per user or API key within the upload "
                    "window; more are refused (429).")
    upload_window_seconds: float = Field(
        3600, alias="SAFEGUARD_UPLOAD_WINDOW_SECONDS", gt=0,
        description="The window in which uploads are counted, in seconds.")
    log_level: str = Field(
        "INFO", alias="SAFEGUARD_LOG_LEVEL",
        description="The root logger's level (DEBUG, INFO, WARNING, ERROR); JSON lines on standard error.")
    session_cookie_secure: bool = Field(
        False, alias="SESSION_COOKIE_SECURE",
        description="Send the session cookie over HTTPS only (turn on when served behind HTTPS).")
    prometheus_multiproc_dir: str = Field(
        "", alias="PROMETHEUS_MULTIPROC_DIR",
        description="Where gunicorn's workers keep their metrics for /metrics; empty means a temporary "
                    "folder that `safeguard serve` makes and removes.")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


class SettingError(ValueError):
    """An environment variable whose value cannot be used."""


def settings_from_environment() -> Settings:
    """The settings the environment gives; SettingError names the variable whose value is not valid."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                             for item in error.errors())
        raise SettingError(f"a setting is not valid: {problems}") from None


def from_environment() -> dict[str, Any]:
    """The app configuration (`app.config` keys) from the environment's settings."""
    settings = settings_from_environment()
    return {
        "DATABASE_URL": settings.database_url or default_database_url(),
        "MAX_CONTENT_LENGTH": settings.max_upload_mb * 1024 * 1024,
        "UPLOAD_DIR": settings.upload_dir,
        # The limits that protect every instance (service/limits.py).
        "MAX_FILE_BYTES": settings.max_file_mb * 1024 * 1024,
        "MAX_EXPANSION": settings.max_expansion,
        "MAX_ROWS": settings.max_rows,
        "MAX_COLUMNS": settings.max_columns,
        "MAX_LINE_CHARS": settings.max_line_kb * 1024,
        "MAX_RULE_DEPTH": settings.max_rule_depth,
        "MAX_RULE_CONDITIONS": settings.max_rule_conditions,
        "MAX_BATCH": settings.max_batch,
        "MAX_BODY_BYTES": settings.max_body_mb * 1024 * 1024,
        # Import jobs run by each process's worker at once, and the queue's timing (service/worker.py).
        "IMPORT_WORKERS": settings.import_workers,
        "RUN_WORKER": False,  # `safeguard serve` turns it on (unless --no-worker)
        "LEASE_SECONDS": settings.lease_seconds,
        "POLL_SECONDS": settings.poll_seconds,
        "FIELD_INDEXES": settings.field_indexes,
        "GRACE_SECONDS": settings.grace_seconds,
        # None, not a random key: service/web/secret.py then shares one key through the database.
        "SECRET_KEY": settings.secret_key or None,
        "LOG_LEVEL": settings.log_level,
        # Limits counted in the database, the same on every instance (service/domain/rate_limits.py).
        "SIGN_IN_FAILURES": settings.sign_in_failures,
        "SIGN_IN_CLIENT_FAILURES": settings.sign_in_client_failures,
        "SIGN_IN_WINDOW_SECONDS": settings.sign_in_window_seconds,
        "TRUSTED_PROXIES": settings.trusted_proxies,
        "UPLOADS_PER_WINDOW": settings.uploads_per_window,
        "UPLOAD_WINDOW_SECONDS": settings.upload_window_seconds,
        # Set by `safeguard serve` for its workers, which make their apps after it did.
        "METRICS_DIR": settings.prometheus_multiproc_dir or None,
        # The session cookie: never read by scripts, not sent with another site's requests (on top
        # of the forms' CSRF tokens), and, when served over HTTPS, never sent over plain HTTP.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.session_cookie_secure,
    }


def command_line_overrides() -> dict[str, Any]:
    """What a `safeguard` command changes in the config: its output is read by a person (and by
    scripts that read a key from it), so it logs warnings and errors only, unless
    SAFEGUARD_LOG_LEVEL asks for more."""
    if "log_level" in settings_from_environment().model_fields_set:
        return {}
    return {"LOG_LEVEL": "WARNING"}
