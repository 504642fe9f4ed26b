"""Logging: JSON lines on standard error, one per request and per import job step.

`configure` sets up the root logger once per process (SAFEGUARD_LOG_LEVEL); every later call only
sets the level. A line carries its fields at the top level (`request_id`, `status`, ...), so log
tools can filter on them. What goes into a line is chosen by its caller: never a key, a password or
a contact's address (paths have any segment with an @ masked, query strings are left out).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

HANDLER_NAME = "safeguard.json"
# Alembic says at INFO which database it found, whenever a command checks the embedded schema.
QUIETER = {"alembic": logging.WARNING}
job_log = logging.getLogger("safeguard.jobs")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, its `fields`, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test's capture replaces it between tests)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(level: str) -> None:
    """Send the root logger's records to standard error as JSON, at `level` (once per process)."""
    root = logging.getLogger()
    if not any(handler.get_name() == HANDLER_NAME for handler in root.handlers):
        handler = StderrHandler()
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    for name, floor in QUIETER.items():
        logging.getLogger(name).setLevel(max(floor, root.level))


def masked_path(path: str) -> str:
    """A URL path fit for a log line: a segment that may hold an address is masked."""
    return "/".join("***" if "@" in part or "%40" in part.lower() else part for part in path.split("/"))


def job_step(job_id: int, account_id: int, step: str, **fields: Any) -> None:
    """Log a step of an import job (started, reading, applying, succeeded, failed)."""
    job_log.info("import %s %s", job_id, step,
                 extra={"fields": {"job_id": job_id, "account_id": account_id, "step": step, **fields}})
