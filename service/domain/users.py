"""Users of the web pages: one account each, signing in by e-mail address and password."""

from __future__ import annotations

from functools import cache

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from importer.addresses import address_key
from service.db import insert_unique
from service.errors import InvalidInput
from service.models import Account, User

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
        raise InvalidInput(f"'{email}' is not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(account_id=account.id, email=email, password_hash=generate_password_hash(password),
                is_admin=is_admin)
    return insert_unique(session, user, f"a user with the address {email} exists already")


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalized_email(email))).first()


def check_credentials(session: Session, email: str, password: str) -> User | None:
    """The user with this address and password, or None."""
    user = find_user(session, email)
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
