"""The imports page: every import of the account, newest first, with its report's counts; real imports
by their number, dry runs marked as checks (not numbered, see service/domain/import_list.py)."""

from __future__ import annotations

from flask import g, request
from flask.typing import ResponseReturnValue

from service.db import session as db_session
from service.domain.import_list import import_page
from service.models import MAX_ID
from service.web.pages import page

IMPORTS_PER_PAGE = 50


def import_list() -> ResponseReturnValue:
    """A page of imports; `?before=<id>` goes on from an older one."""
    before = request.args.get("before", "")
    cursor = min(int(before), MAX_ID) if before.isascii() and before.isdigit() else 0
    jobs, next_cursor = import_page(db_session(), g.account.id, before=cursor, limit=IMPORTS_PER_PAGE)
    return page("imports/list.html", jobs=jobs, next_cursor=next_cursor, paged=cursor != 0)
