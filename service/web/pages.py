"""What every page shares: rendering with the signed-in user, and the error pages."""

from __future__ import annotations

from typing import Any

from flask import g, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render a page of the signed-in user's account."""
    return render_template(template, user=g.get("user"), account=g.get("account"), **context), status


def csrf_refused(error: CSRFError) -> tuple[str, int]:
    return page("error.html", 400, title="The form has expired",
                message="The form was sent without its security token, or with one that is no "
                        "longer valid. Go back, reload the page and try again.")


def not_found(error: NotFound) -> tuple[str, int]:
    return page("error.html", 404, title="Not found",
                message="This page does not exist, or it belongs to another account.")
