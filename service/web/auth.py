"""Signing in and out; every page but sign-in needs a signed-in user of one account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from service.db import session as db_session
from service.domain import users
from service.models import Account, User
from service.web.pages import page
from service.words import gettext

PUBLIC_ENDPOINTS = {"web.sign_in"}


def require_user() -> ResponseReturnValue | None:
    """Load the signed-in user and their account; send anyone else to the sign-in page."""
    g.user = g.account = None
    user_id = session.get("user_id")
    user = db_session().get(User, user_id) if isinstance(user_id, int) else None
    if user is not None:
        g.user, g.account = user, db_session().get(Account, user.account_id)
    if g.user is None and request.endpoint == "web.home":
        return sign_in()  # the front door: the sign-in form itself, not a redirect to it
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("web.sign_in", next=request.full_path.rstrip("?")))
    return None


def safe_next(target: str | None) -> str:
    """Only a path on this site: never redirect a signed-in user to another host."""
    parts = urlsplit(target or "")
    # Browsers read "/\host" as "//host": another site.
    if (not target or parts.scheme or parts.netloc or not target.startswith("/")
            or target.startswith(("//", "/\\"))):
        return url_for("web.home")
    return target


def sign_in() -> ResponseReturnValue:
    target = request.values.get("next")
    if request.method == "GET":
        if g.user is not None:
            return redirect(safe_next(target))
        return page("sign_in.html", next=target or "", email="", error=None)
    email = request.form.get("email", "")
    user = users.check_credentials(db_session(), email, request.form.get("password", ""))
    if user is None:
        return page("sign_in.html", 401, next=target or "", email=email,
                    error=gettext("The e-mail address or the password is not right."))
    session.clear()  # a new session (and CSRF token) for the signed-in user
    session["user_id"] = user.id
    return redirect(safe_next(target))


def sign_out() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("web.sign_in"))
