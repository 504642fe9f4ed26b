"""Contacts: find them by address or external ID, and read one."""

from __future__ import annotations

from flask import g, request
from flask.typing import ResponseReturnValue
from sqlmodel import select

from service.api.routing import api, endpoint, page_args
from service.db import session
from service.domain.contacts import contact_public, find_contacts
from service.errors import InvalidInput, NotFound
from service.models import Contact, ContactList, ContactPublic, Scope

PAGE_LIMIT = 1000


@endpoint(api, "/contacts", "GET", summary="Find contacts by address or external ID",
          scope=Scope.MANAGE, response=ContactList,
          query={"address": "an e-mail address (compared by its address key)",
                 "external_id.<link>": "an ID of the named link (merged IDs included)",
                 "cursor": "the next_cursor of the previous page", "limit": "at most 1000"})
def list_contacts() -> ResponseReturnValue:
    external = {k.removeprefix("external_id."): v for k, v in request.args.items()
                if k.startswith("external_id.")}
    if len(external) > 1:
        raise InvalidInput("give one external_id.<link> at a time", part="external_id")
    cursor, limit = page_args(maximum=PAGE_LIMIT)
    contacts, next_cursor = find_contacts(
        session(), g.account.id, address=request.args.get("address"),
        external_id=next(iter(external.items()), None), after=cursor, limit=limit,
    )
    return ContactList(contacts=contacts, next_cursor=next_cursor).model_dump(mode="json")


@endpoint(api, "/contacts/<int:contact_id>", "GET", summary="One contact with its fields and IDs",
          scope=Scope.MANAGE, response=ContactPublic)
def get_contact(contact_id: int) -> ResponseReturnValue:
    contact = session().exec(
        select(Contact).where(Contact.id == contact_id, Contact.account_id == g.account.id)
    ).first()
    if contact is None:
        raise NotFound("contact")
    return contact_public(session(), contact).model_dump(mode="json")
