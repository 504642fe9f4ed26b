"""Random secrets shared by every process of the service, kept in the database.

Several worker processes and hosts must agree on them (the session cookies' key, the salt of
erased addresses): whichever process asks first makes one, the others read it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from service.models import AppSecret


def stored_secret(engine: Engine, name: str) -> str:
    """The secret called `name`, made now if no process has made it yet."""
    with Session(engine) as session:
        found = session.get(AppSecret, name)
        if found is not None:
            return found.value
    # A writer from the start (SQLite): one that read first could not wait for another writer.
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        session.add(AppSecret(name=name, value=secrets.token_hex(32)))
        try:
            session.commit()
        except IntegrityError:  # another process made it first
            session.rollback()
        found = session.get(AppSecret, name)
        assert found is not None
        return found.value
