"""Users of the web pages: one account each, signing in by e-mail address and password."""

from __future__ import annotations

from functools import cache

from sqlalchemy import delete
from sqlmodel import Session, col, select
from werkzeug.security import check_password_hash, generate_password_hash

from importer.addresses import address_key
from importer.said import said
from service.db import begin_write, insert_unique
from service.domain.user_sessions import end_all_sessions
from service.errors import InvalidInput, NotFound
from service.models import Account, ImportDraft, User

MIN_PASSWORD_LENGTH = 8


@cache
def _unknown_user_hash() -> str:
    # Checked against when the address is unknown, so that a wrong address takes as long as a wrong password.
    return generate_password_hash("no such user")


def normalized_email(email: str) -> str:
    """The form a sign-in address is stored and looked up in: trimmed, lower-cased."""
    return address_key(email.strip())


def create_user(session: Session, *, account: Account, email: str, password: str,
                is_admin: bool = False) -> User:
    """Add a user to the account; the password is stored as a salted scrypt hash.

    An admin (support staff) may also apply and undo changes of the account's dedup rule.
    """
    email = normalized_email(email)
    if "@" not in email or len(email) > 320:
        raise InvalidInput(said("'%(email)s' is not an e-mail address", email=email))
    _check_password(password)
    user = User(account_id=account.id, email=email, password_hash=generate_password_hash(password),
                is_admin=is_admin)
    return insert_unique(session, user, said("a user with the address %(email)s exists already", email=email))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(said("the password must have at least %(least)s characters",
                                least=MIN_PASSWORD_LENGTH))


def _known_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"user {normalized_email(email)}")
    return user


def set_password(session: Session, email: str, password: str) -> User:
    """Give the user a new password and sign them out everywhere (a leaked password's sessions end)."""
    _check_password(password)
    begin_write(session)
    user = _known_user(session, email)
    user.password_hash = generate_password_hash(password)
    session.add(user)
    end_all_sessions(session, user.id)
    session.commit()
    return user


def remove_user(session: Session, email: str) -> None:
    """Remove the user, their wizard drafts and their sessions (signed out at their next page)."""
    begin_write(session)
    user = _known_user(session, email)
    end_all_sessions(session, user.id)
    session.execute(delete(ImportDraft).where(col(ImportDraft.user_id) == user.id))
    session.delete(user)
    session.commit()


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalized_email(email))).first()


def check_credentials(session: Session, email: str, password: str) -> User | None:
    """The user with this address and password, or None."""
    user = find_user(session, email)
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
