"""What every page shares: rendering with the signed-in user, and the page for a refused form.

Other errors are answered by service/http_errors.py, with the same error page."""

from __future__ import annotations

import math
from typing import Any

from flask import g, render_template
from flask_wtf.csrf import CSRFError

from service.words import gettext, ngettext


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render a page of the signed-in user's account."""
    return render_template(template, user=g.get("user"), account=g.get("account"), **context), status


def wait_words(seconds: int) -> str:
    """A wait as a person reads it, in the page's language."""
    if seconds < 90:
        return ngettext("%(num)s second", "%(num)s seconds", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)


def wait_page(template: str, retry_after: int, **context: Any) -> tuple[str, int, dict[str, str]]:
    """A form refused for too many attempts (429): it says how long to wait, as Retry-After does."""
    body, status = page(template, 429, **context)
    return body, status, {"Retry-After": str(retry_after)}


def csrf_refused(error: CSRFError) -> tuple[str, int]:
    return page("error.html", 400, title=gettext("The form has expired"),
                message=gettext("The form was sent without its security token, or with one that is no "
                                "longer valid. Go back, reload the page and try again."))
