"""Server-side sessions of the web pages: revocable at once, on every instance.

Flask's cookie sessions are signed, not stored: a copied cookie would work until its key changes,
sign-out or not. The cookie now carries a random token, and the session is valid while the
database holds the token's hash (a stolen database reveals no usable token). Signing out deletes
the row; a new password or a removed user deletes all of the user's rows. A session also ends
LIFETIME after its sign-in, so that a cookie left on a shared computer does not work for ever.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from service.db import begin_write
from service.models import User, UserSession, utcnow

LIFETIME = timedelta(days=30)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User) -> str:
    """Store a new session of the user; the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    begin_write(session)
    # The user's sessions that ended by age go (abandoned ones are never signed out).
    session.execute(delete(UserSession).where(col(UserSession.user_id) == user.id,
                                              col(UserSession.created_at) <= utcnow() - LIFETIME))
    session.add(UserSession(user_id=user.id, token_hash=_token_hash(token)))
    session.commit()
    return token


def session_user(session: Session, token: object) -> User | None:
    """The user whose live session this token is, or None (no token, signed out, revoked)."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    return session.exec(select(User).join(UserSession, col(UserSession.user_id) == User.id)
                        .where(UserSession.token_hash == _token_hash(token),
                               col(UserSession.created_at) > utcnow() - LIFETIME)).first()


def end_session(session: Session, token: object) -> None:
    """Revoke this one session (sign-out); other browsers of the user stay signed in."""
    if not isinstance(token, str) or not token:
        return
    begin_write(session)
    session.execute(delete(UserSession).where(col(UserSession.token_hash) == _token_hash(token)))
    session.commit()


def end_all_sessions(session: Session, user_id: int) -> None:
    """Revoke every session of the user, in the caller's transaction (not committed here)."""
    session.execute(delete(UserSession).where(col(UserSession.user_id) == user_id))
