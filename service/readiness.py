"""Readiness: the database answers, and its schema is at the newest migration this code ships.

An instance whose database is behind (a deploy that ran before `safeguard db upgrade`) or away
would answer errors; a load balancer asks /readyz and sends it no traffic until it is ready.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from service.db import MIGRATIONS


@dataclass(frozen=True)
class Readiness:
    """Ready, or why not: `code` is stable for programs, `message` is for people."""

    ready: bool
    code: str
    message: str
    schema: str | None = None


@functools.cache
def code_heads() -> frozenset[str]:
    """The newest revisions of the packaged migrations (read once: they change only with the code)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness(engine: Engine) -> Readiness:
    """Ask the database whether it answers and which revision its schema is at."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
        return Readiness(False, "database_unavailable", f"the database does not answer: {reason}")
    wanted = code_heads()
    at = ", ".join(sorted(current)) or None
    if current != wanted:
        return Readiness(False, "schema_behind",
                         f"the database schema is at {at or 'no revision (empty)'}, this code needs "
                         f"{', '.join(sorted(wanted))}: run `safeguard db upgrade`", at)
    return Readiness(True, "ready", "the database answers and its schema is current", at)
