"""API keys: made once, shown once, stored as a hash; each carries one scope of one account."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from service.errors import Forbidden, NotAuthenticated
from service.models import Account, ApiKey, Scope

# What each scope may do: `admin` is support staff, who may also do what campaign managers do.
GRANTS: dict[str, set[str]] = {
    Scope.MANAGE: {Scope.MANAGE},
    Scope.SEND: {Scope.SEND},
    Scope.ADMIN: {Scope.ADMIN, Scope.MANAGE},
}
KEY_PREFIX = "sg_"


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, account: Account, scope: str) -> str:
    """Make a key for the account, store its hash, and return the key (the only time it is seen)."""
    if scope not in GRANTS:
        raise ValueError(f"scope must be one of {', '.join(GRANTS)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(account_id=account.id, scope=scope, prefix=key[:10], key_hash=hash_key(key)))
    session.commit()
    return key


def key_holder(session: Session, key: str) -> tuple[Account, str]:
    """The account and scope of a key; NotAuthenticated for a key nobody issued."""
    found = session.exec(
        select(ApiKey, Account).join(Account).where(ApiKey.key_hash == hash_key(key))
    ).first()
    if found is None:
        raise NotAuthenticated("unknown API key")
    api_key, account = found
    return account, api_key.scope


def check_grant(scope: str, needed: str | None) -> None:
    """Refuse a key whose scope does not grant `needed` (None: any scope will do)."""
    if needed is not None and needed not in GRANTS[scope]:
        raise Forbidden(f"this needs a key with the '{needed}' scope")
