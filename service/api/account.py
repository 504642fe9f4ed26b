"""The account, its links and its fields."""

from __future__ import annotations

from flask import g
from flask.typing import ResponseReturnValue

from importer.vocabulary import FieldType
from service.api.routing import api, endpoint, json_body
from service.db import session
from service.domain import accounts
from service.models import (
    AccountPublic,
    FieldCreate,
    FieldPublic,
    LinkCreate,
    LinkPublic,
    Scope,
)


@endpoint(api, "/account", "GET", summary="The key's account, with its links and fields",
          scope=None, response=AccountPublic)
def get_account() -> ResponseReturnValue:
    return accounts.account_public(session(), g.account).model_dump(mode="json")


@endpoint(api, "/links", "POST", summary="Add a linked system with its own ID namespace",
          scope=Scope.MANAGE, body=LinkCreate, response=LinkPublic, status=201,
          conflicts=("conflict",))
def create_link() -> ResponseReturnValue:
    body = json_body(LinkCreate)
    link = accounts.create_link(session(), account=g.account, name=body.name, label=body.label,
                                id_pattern=body.id_pattern)
    return LinkPublic.model_validate(link, from_attributes=True).model_dump(mode="json"), 201


@endpoint(api, "/fields", "POST", summary="Add a typed contact field",
          scope=Scope.MANAGE, body=FieldCreate, response=FieldPublic, status=201,
          conflicts=("conflict",))
def create_field() -> ResponseReturnValue:
    body = json_body(FieldCreate)
    field = accounts.create_field(session(), account=g.account, name=body.name, type=body.type,
                                  label=body.label)
    return FieldPublic(id=field.id, name=field.name, type=FieldType(field.type), label=field.label
                       ).model_dump(mode="json"), 201
