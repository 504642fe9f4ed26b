"""Signing in and out; every page but sign-in needs a signed-in user of one account.

The cookie carries a session token that the database must still hold (service/domain/user_sessions.py):
a copied cookie stops working at sign-out. Failed sign-ins are limited per address and per client
(service/domain/rate_limits.py), counted in the database so that every instance refuses alike.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from service.db import session as db_session
from service.domain import rate_limits, user_sessions, users
from service.errors import TooManyAttempts
from service.models import Account
from service.web.pages import page, wait_page, wait_words
from service.words import gettext

PUBLIC_ENDPOINTS = {"web.sign_in"}
TOKEN = "session_token"


def require_user() -> ResponseReturnValue | None:
    """Load the signed-in user and their account; send anyone else to the sign-in page."""
    g.user = g.account = None
    user = user_sessions.session_user(db_session(), session.get(TOKEN))
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
    limits = _sign_in_limits(email)
    try:
        # Before the password is checked: once over the limit, the right one is refused too.
        rate_limits.refuse_if_over(db_session(), limits, "failed sign-ins")
    except TooManyAttempts as refused:
        return wait_page("sign_in.html", refused.retry_after, next=target or "", email=email,
                         error=gettext("Too many failed sign-ins. Wait %(wait)s, then try again.",
                                       wait=wait_words(refused.retry_after)))
    user = users.check_credentials(db_session(), email, request.form.get("password", ""))
    if user is None:
        rate_limits.record(db_session(), limits)
        return page("sign_in.html", 401, next=target or "", email=email,
                    error=gettext("The e-mail address or the password is not right."))
    token = user_sessions.start_session(db_session(), user)
    session.clear()  # a new session (and CSRF token) for the signed-in user
    session[TOKEN] = token
    return redirect(safe_next(target))


def _sign_in_limits(email: str) -> dict[str, rate_limits.Limit]:
    """The counters a failed sign-in adds to: its address's and its client's."""
    config = current_app.config
    window = config["SIGN_IN_WINDOW_SECONDS"]
    return {
        f"sign_in:email:{users.normalized_email(email)[:300]}":
            rate_limits.Limit(config["SIGN_IN_FAILURES"], window),
        f"sign_in:client:{request.remote_addr or 'unknown'}":
            rate_limits.Limit(config["SIGN_IN_CLIENT_FAILURES"], window),
    }


def sign_out() -> ResponseReturnValue:
    user_sessions.end_session(db_session(), session.get(TOKEN))
    session.clear()
    return redirect(url_for("web.sign_in"))
