"""Erased addresses: kept only as a salted hash, so that an import or edit cannot bring them back.

A person who asked to be forgotten is deleted with their data; what stays is the hash of their
address key (HMAC with a salt kept in the database, keyed by the account), which cannot be turned
back into the address but recognises it when it comes again. An admin may lift an erasure (the
person came back and gave consent), after which the address is welcome again.
"""

from __future__ import annotations

import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from importer.addresses import erased_address_hash
from service.models import AppSecret, Erasure, utcnow

SALT_NAME = "erasure_salt"


def erasure_salt(session: Session) -> str:
    """The salt of every account's erased-address hashes, made on first use.

    Made in the caller's transaction (in a savepoint, in case another process made it first):
    an erasure runs in a write transaction, which on SQLite no second connection could join.
    """
    found = session.get(AppSecret, SALT_NAME)
    if found is not None:
        return found.value
    try:
        with session.begin_nested():
            session.add(AppSecret(name=SALT_NAME, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process made it first
    found = session.get(AppSecret, SALT_NAME)
    assert found is not None
    return found.value


def address_hash(session: Session, account_id: int, key: str) -> str:
    """The hash an address key of this account is kept as once erased."""
    return erased_address_hash(erasure_salt(session), account_id, key)


def erased_hashes(session: Session, account_id: int) -> frozenset[str]:
    """The hashes of the account's erased addresses that are not lifted (usually none)."""
    return frozenset(session.exec(
        select(Erasure.address_hash).where(Erasure.account_id == account_id,
                                           col(Erasure.lifted_at).is_(None))
    ))


def is_erased(session: Session, account_id: int, key: str) -> bool:
    """Whether the address key belongs to an erased person (and the erasure is not lifted)."""
    if session.exec(select(Erasure.id).where(Erasure.account_id == account_id,
                                             col(Erasure.lifted_at).is_(None)).limit(1)).first() is None:
        return False  # no erasures: no salt to read
    return address_hash(session, account_id, key) in erased_hashes(session, account_id)


def record_erasure(session: Session, account_id: int, key: str) -> str:
    """Keep the erased address key as its hash (in the caller's transaction); returns the hash."""
    digest = address_hash(session, account_id, key)
    if digest not in erased_hashes(session, account_id):
        session.add(Erasure(account_id=account_id, address_hash=digest))
    return digest


def lift_erasure(session: Session, account_id: int, key: str) -> int:
    """Let an erased address be imported again; returns how many erasures were lifted (0 or 1)."""
    result = session.execute(
        update(Erasure)
        .where(col(Erasure.account_id) == account_id,
               col(Erasure.address_hash) == address_hash(session, account_id, key),
               col(Erasure.lifted_at).is_(None))
        .values(lifted_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
