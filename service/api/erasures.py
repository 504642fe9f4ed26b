"""Erasures: support staff let an erased address be imported again (the person came back)."""

from __future__ import annotations

from flask import g
from flask.typing import ResponseReturnValue

from service.api.routing import api, endpoint, json_body
from service.db import session
from service.domain.contact_changes import lift
from service.models import ErasureLift, Lifted, Scope


@endpoint(api, "/erasures/lift", "POST", summary="Lift the erasure of an address, so that imports and "
          "edits take it again", scope=Scope.ADMIN, body=ErasureLift, response=Lifted)
def lift_erasure() -> ResponseReturnValue:
    body = json_body(ErasureLift)
    return Lifted(lifted=lift(session(), g.account, body.address)).model_dump(mode="json")
