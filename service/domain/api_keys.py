"""API keys: made once, shown once, stored as a hash; each carries one scope of one account.

Every request looks its key up in the database (no per-process cache), so a key revoked on one
instance is refused by every instance at its next use. The last use is written at most once a
minute per key, on a connection of its own that waits for no lock: a key used a thousand times a
second costs one small write a minute, and a request never waits behind an import's write lock
only to note that its key was used.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from importer.said import said
from service.db import SQLITE_BUSY_MS, begin_write, is_sqlite, own
from service.domain.contacts import as_utc
from service.errors import Forbidden, NotAuthenticated
from service.models import Account, ApiKey, KeyCreated, KeyPublic, Scope, utcnow

log = logging.getLogger(__name__)

# What each scope may do: `admin` is support staff, who may also do what campaign managers do.
GRANTS: dict[str, set[str]] = {
    Scope.MANAGE: {Scope.MANAGE},
    Scope.SEND: {Scope.SEND},
    Scope.ADMIN: {Scope.ADMIN, Scope.MANAGE},
}
KEY_PREFIX = "sg_"
# `last_used_at` is at most this much older than the key's real last use.
LAST_USE_PRECISION = timedelta(minutes=1)
# A note of the last use gives up this soon when the database is busy (the next use tries again).
TOUCH_WAIT_MS = 200


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(session: Session, *, account: Account, scope: str, name: str | None = None) -> KeyCreated:
    """Make a key for the account and store its hash; the answer holds the key (the only time it is seen)."""
    if scope not in GRANTS:
        raise ValueError(f"scope must be one of {', '.join(GRANTS)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(account_id=account.id, scope=scope, prefix=key[:10], key_hash=hash_key(key), name=name)
    begin_write(session)  # after the request's reads: SQLite would refuse the write as busy
    session.add(row)
    session.commit()
    return KeyCreated(id=row.id, name=row.name, scope=Scope(row.scope), key=key,
                      created_at=as_utc(row.created_at))


def create_key(session: Session, *, account: Account, scope: str, name: str | None = None) -> str:
    """Make a key for the account and return the key itself."""
    return issue_key(session, account=account, scope=scope, name=name).key


def key_holder(session: Session, key: str) -> tuple[Account, str]:
    """The account and scope of a key; NotAuthenticated for a key nobody issued or one revoked."""
    found = session.exec(
        select(ApiKey, Account).join(Account).where(ApiKey.key_hash == hash_key(key))
    ).first()
    if found is None:
        raise NotAuthenticated(said("unknown API key"))
    api_key, account = found
    if api_key.revoked_at is not None:
        raise NotAuthenticated(said("this API key was revoked"))
    now = utcnow()
    if api_key.last_used_at is None or now - as_utc(api_key.last_used_at) >= LAST_USE_PRECISION:
        # End this read first: on SQLite a transaction that read before another connection's
        # write may not write after it (the request's own writes would fail).
        session.commit()
        note_use(session.get_bind(), api_key.id, now)  # type: ignore[arg-type]
    return account, api_key.scope


def note_use(engine: Engine, key_id: int, now: datetime) -> None:
    """Record the key's use, unless another request did within the last minute; never wait for a lock."""
    stale = or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) <= now - LAST_USE_PRECISION)
    try:
        with engine.connect() as conn:
            sqlite = is_sqlite(conn)
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={TOUCH_WAIT_MS}")
            try:
                conn.execute(update(ApiKey).where(col(ApiKey.id) == key_id, stale).values(last_used_at=now))
                conn.commit()
            finally:
                if sqlite:
                    conn.rollback()
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                    conn.commit()
    except OperationalError:
        log.info("the last use of key %s is not recorded: the database is busy", key_id)


def check_grant(scope: str, needed: str | None) -> None:
    """Refuse a key whose scope does not grant `needed` (None: any scope will do)."""
    if needed is not None and needed not in GRANTS[scope]:
        raise Forbidden(said("this needs a key with the '%(needed)s' scope", needed=needed))


def key_public(row: ApiKey) -> KeyPublic:
    """A key as listed: everything but the key and its hash."""
    return KeyPublic(id=row.id, name=row.name, scope=Scope(row.scope), prefix=row.prefix,
                     created_at=as_utc(row.created_at),
                     last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
                     revoked_at=as_utc(row.revoked_at) if row.revoked_at else None)


def list_keys(session: Session, account_id: int) -> list[KeyPublic]:
    """The account's keys, revoked ones too, in the order they were made."""
    rows = session.exec(select(ApiKey).where(ApiKey.account_id == account_id).order_by(col(ApiKey.id)))
    return [key_public(row) for row in rows]


def revoke_key(session: Session, account_id: int, key_id: int) -> KeyPublic:
    """Revoke the account's key at once (a key revoked already keeps its first revocation);
    NotFound for another account's key."""
    row = own(session, ApiKey, key_id, account_id, "key")
    if row.revoked_at is None:
        begin_write(session)
        session.execute(update(ApiKey).where(col(ApiKey.id) == key_id, col(ApiKey.revoked_at).is_(None))
                        .values(revoked_at=utcnow()))
        session.commit()
        session.refresh(row)
    return key_public(row)
