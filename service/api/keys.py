"""The account's API keys: make one (shown once), list them, revoke one."""

from __future__ import annotations

from flask import g
from flask.typing import ResponseReturnValue

from service.api.routing import api, endpoint, json_body
from service.db import session
from service.domain import api_keys
from service.models import KeyCreate, KeyCreated, KeyList, Scope


@endpoint(api, "/keys", "POST", summary="Make an API key; the answer shows the key, this once",
          scope=Scope.ADMIN, body=KeyCreate, response=KeyCreated, status=201)
def create_key() -> ResponseReturnValue:
    body = json_body(KeyCreate)
    created = api_keys.issue_key(session(), account=g.account, scope=body.scope, name=body.name)
    return created.model_dump(mode="json"), 201


@endpoint(api, "/keys", "GET", summary="The account's keys (revoked ones too), without the keys themselves",
          scope=Scope.ADMIN, response=KeyList)
def list_keys() -> ResponseReturnValue:
    return KeyList(keys=api_keys.list_keys(session(), g.account.id)).model_dump(mode="json")


@endpoint(api, "/keys/<int:key_id>", "DELETE",
          summary="Revoke a key: every instance refuses it from its next use",
          scope=Scope.ADMIN, status=204)
def revoke_key(key_id: int) -> ResponseReturnValue:
    api_keys.revoke_key(session(), g.account.id, key_id)
    return "", 204
