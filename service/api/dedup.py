"""Changing the account's dedup rule: the impact preview (manage), apply and undo (admin)."""

from __future__ import annotations

from flask import g, request
from flask.typing import ResponseReturnValue

from service.api.routing import api, endpoint, json_body
from service.db import current_engine, session
from service.domain import dedup_change
from service.models import (
    DedupApplied,
    DedupApply,
    DedupChangeList,
    DedupPreview,
    DedupUndo,
    DedupUndone,
    Scope,
)


@endpoint(api, "/dedup/preview", "GET", summary="What changing the dedup rule would do",
          scope=Scope.MANAGE, query={"to": "email or external_id", "link": "with to=external_id: the link",
                                 "representative": "with to=email: which contact of an address survives"},
          response=DedupPreview, conflicts=("conflict",))
def preview() -> ResponseReturnValue:
    return dedup_change.preview(session(), g.account, to=request.args.get("to", ""),
                         link=request.args.get("link"), representative=request.args.get("representative"))


@endpoint(api, "/dedup/apply", "POST", summary="Change the dedup rule (merging contacts that share "
          "an address, when to email)", scope=Scope.ADMIN, body=DedupApply, response=DedupApplied,
          conflicts=("conflict",))
def apply() -> ResponseReturnValue:
    body = json_body(DedupApply)
    return dedup_change.apply(current_engine(), session(), g.account, to=body.to, link=body.link,
                       representative=body.representative)


@endpoint(api, "/dedup/undo", "POST", summary="Undo the latest change: the mode and every merged contact",
          scope=Scope.ADMIN, body=DedupUndo, response=DedupUndone, conflicts=("conflict",))
def undo() -> ResponseReturnValue:
    body = json_body(DedupUndo)
    return dedup_change.undo(current_engine(), g.account, body.change_id)


@endpoint(api, "/dedup/changes", "GET", summary="The account's dedup changes, latest first",
          scope=Scope.MANAGE, response=DedupChangeList)
def changes() -> ResponseReturnValue:
    # Through the model: its dates in ISO 8601 (Flask's JSON would write an HTTP date).
    return DedupChangeList.model_validate({"changes": dedup_change.history(session(), g.account.id)}
                                          ).model_dump(mode="json", by_alias=True)
