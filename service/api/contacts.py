"""Contacts: find them, read one with its status history, edit, opt out and in, erase, export all."""

from __future__ import annotations

from flask import Response, g, request
from flask.typing import ResponseReturnValue
from sqlmodel import select

from importer.vocabulary import ContactStatus
from service.api.routing import CSV_CHOICES, CSV_QUERY, api, csv_dialect, endpoint, json_body, page_args
from service.db import current_engine, own, session
from service.domain import contact_changes
from service.domain.contact_export import export_rows
from service.domain.contacts import contact_public, find_contacts
from service.domain.status_history import history_of
from service.downloads import csv_response
from service.errors import InvalidInput, NotFound
from service.models import (
    Contact,
    ContactHistory,
    ContactList,
    ContactPatch,
    ContactPublic,
    Resubscription,
    Scope,
    StatusChangePublic,
    Unsubscription,
)

PAGE_LIMIT = 1000


@endpoint(api, "/contacts", "GET", summary="Page through the contacts, or find them by address or "
          "external ID", scope=Scope.MANAGE, response=ContactList,
          query={"address": "an e-mail address (compared by its address key)",
                 "external_id.<link>": "an ID of the named link (merged IDs included)",
                 "status": "only contacts with this status",
                 "cursor": "the next_cursor of the previous page", "limit": "at most 1000"},
          choices={"status": tuple(ContactStatus)}, page_limit=PAGE_LIMIT)
def list_contacts() -> ResponseReturnValue:
    external = {k.removeprefix("external_id."): v for k, v in request.args.items()
                if k.startswith("external_id.")}
    if len(external) > 1:
        raise InvalidInput("give one external_id.<link> at a time", part="external_id")
    cursor, limit = page_args(maximum=PAGE_LIMIT)
    contacts, next_cursor = find_contacts(
        session(), g.account.id, address=request.args.get("address"),
        external_id=next(iter(external.items()), None), status=request.args.get("status"),
        after=cursor, limit=limit,
    )
    return ContactList(contacts=contacts, next_cursor=next_cursor).model_dump(mode="json")


@endpoint(api, "/contacts/export", "GET", summary="Every contact as CSV (id, email, status, created_at, "
          "updated_at, every field, every link's ID), streamed; cells a spreadsheet would read as a "
          "formula start with '", scope=Scope.MANAGE, content_type="text/csv",
          query=CSV_QUERY, choices=CSV_CHOICES)
def export_contacts() -> Response:
    dialect = csv_dialect()
    return csv_response(export_rows(current_engine(), g.account.id), "contacts.csv", **dialect)


@endpoint(api, "/contacts/<int:contact_id>", "GET", summary="One contact with its fields and IDs",
          scope=Scope.MANAGE, response=ContactPublic)
def get_contact(contact_id: int) -> ResponseReturnValue:
    contact = session().exec(
        select(Contact).where(Contact.id == contact_id, Contact.account_id == g.account.id)
    ).first()
    if contact is None:
        raise NotFound("contact")
    return contact_public(session(), contact).model_dump(mode="json")


@endpoint(api, "/contacts/<int:contact_id>/history", "GET", summary="Every change of the contact's "
          "status: when, from what to what, and why", scope=Scope.MANAGE, response=ContactHistory)
def contact_history(contact_id: int) -> ResponseReturnValue:
    own(session(), Contact, contact_id, g.account.id, "contact")
    changes = [StatusChangePublic.model_validate(change, from_attributes=True)
               for change in history_of(session(), g.account.id, contact_id)]
    return ContactHistory(history=changes).model_dump(mode="json")


@endpoint(api, "/contacts/<int:contact_id>", "PATCH", summary="Edit a contact's address, fields and "
          "IDs, checked as an import row is (400 names the part); status is changed by events and "
          "resubscribe", scope=Scope.MANAGE, body=ContactPatch, response=ContactPublic,
          conflicts=("address_conflict", "id_conflict", "erased_address"))
def edit_contact(contact_id: int) -> ResponseReturnValue:
    raw = request.get_json(silent=True)
    if isinstance(raw, dict) and "status" in raw:
        raise InvalidInput("status: not set by an edit; report events, or resubscribe with consent",
                           part="status")
    body = json_body(ContactPatch)
    edit = contact_changes.ContactEdit(email=body.email, fields=body.fields, external_ids=body.external_ids)
    return contact_changes.edit_contact(session(), g.account, contact_id, edit).model_dump(mode="json")


@endpoint(api, "/contacts/<int:contact_id>/unsubscribe", "POST", summary="Record an opt-out by hand "
          "(a bounced contact stays bounced)", scope=Scope.MANAGE, body=Unsubscription,
          response=ContactPublic)
def unsubscribe_contact(contact_id: int) -> ResponseReturnValue:
    body = json_body(Unsubscription) if request.content_length else Unsubscription()
    return contact_changes.unsubscribe_contact(session(), g.account, contact_id,
                                               detail=body.detail).model_dump(mode="json")


@endpoint(api, "/contacts/<int:contact_id>/resubscribe", "POST", summary="Make an unsubscribed contact "
          "active again with the person's consent; a bounced one only with an admin key",
          scope=Scope.MANAGE, body=Resubscription, response=ContactPublic, conflicts=("address_bounced",))
def resubscribe_contact(contact_id: int) -> ResponseReturnValue:
    body = json_body(Resubscription)
    return contact_changes.resubscribe_contact(session(), g.account, contact_id, body.consent,
                                               admin=g.scope == Scope.ADMIN).model_dump(mode="json")


@endpoint(api, "/contacts/<int:contact_id>", "DELETE", summary="Erase a contact: its fields, IDs and "
          "history are deleted; its send-ledger rows stay with the address hashed; the address is "
          "refused by imports and edits until an admin lifts the erasure", scope=Scope.MANAGE, status=204)
def erase_contact(contact_id: int) -> ResponseReturnValue:
    contact_changes.erase_contact(session(), g.account, contact_id)
    return "", 204
