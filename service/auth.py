"""API keys: made once, shown once, stored as a hash; each carries one scope of one account."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from flask import g, request
from sqlmodel import Session, select

from service.db import session as db_session
from service.errors import APIError
from service.models import Account, ApiKey

# What each scope may do: `admin` is support staff, who may also do what campaign managers do.
GRANTS = {"manage": {"manage"}, "send": {"send"}, "admin": {"admin", "manage"}}
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


def authenticate(session: Session, header: str | None) -> tuple[Account, str]:
    """Return the account and scope of a `Bearer` key, or raise 401."""
    scheme, _, key = (header or "").strip().partition(" ")
    key = key.strip()
    # The scheme is case-insensitive (RFC 9110); some clients send "bearer".
    if scheme.lower() != "bearer" or not key:
        raise APIError(401, "unauthorized", "send an API key as 'Authorization: Bearer <key>'")
    found = session.exec(
        select(ApiKey, Account).join(Account).where(ApiKey.key_hash == hash_key(key))
    ).first()
    if found is None:
        raise APIError(401, "unauthorized", "unknown API key")
    api_key, account = found
    return account, api_key.scope


def requires(scope: str | None) -> Callable:
    """Guard a view: a valid key whose scope grants `scope` (None: any scope)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            account, key_scope = authenticate(db_session(), request.headers.get("Authorization"))
            if scope is not None and scope not in GRANTS[key_scope]:
                raise APIError(403, "forbidden", f"this needs a key with the '{scope}' scope")
            g.account = account
            g.scope = key_scope
            return view(*args, **kwargs)

        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate
