"""The API's authentication: a `Bearer` key in the Authorization header, checked before each view."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

from service.db import session as db_session
from service.domain.api_keys import check_grant, hash_key, key_holder
from service.errors import NotAuthenticated


def bearer_key(header: str | None) -> str:
    """The key of an `Authorization: Bearer <key>` header; NotAuthenticated without one."""
    scheme, _, key = (header or "").strip().partition(" ")
    key = key.strip()
    # The scheme is case-insensitive (RFC 9110); some clients send "bearer".
    if scheme.lower() != "bearer" or not key:
        raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")
    return key


def requires(scope: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a view: a valid key whose scope grants `scope` (None: any scope)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            key = bearer_key(request.headers.get("Authorization"))
            account, key_scope = key_holder(db_session(), key)
            check_grant(key_scope, scope)
            g.account = account
            g.scope = key_scope
            g.uploader = f"key:{hash_key(key)[:32]}"  # what upload limits count by: the key
            return view(*args, **kwargs)

        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate
