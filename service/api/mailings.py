"""Mailings: made, changed, copied and deleted; their preview and send list, the pre-send check,
release, confirm and the ledger."""

from __future__ import annotations

from functools import partial

from flask import current_app, g, request
from flask.typing import ResponseReturnValue

from service import limits, metrics
from service.api.routing import CSV_FORMAT_QUERY, api, csv_dialect, endpoint, json_body, page_args
from service.api.send_lists import (
    LIST_FORMATS,
    RECIPIENTS_CHOICES,
    RECIPIENTS_QUERY,
    SEND_LIST_PAGE_LIMIT,
    preview_answer,
    recipients_answer,
)
from service.db import current_engine, session
from service.domain import ledger, mailings, send_check
from service.domain.started_audiences import started_audiences
from service.downloads import csv_response
from service.errors import InvalidInput
from service.models import (
    CheckBody,
    CheckResponse,
    Confirmed,
    ContactIds,
    LedgerPublic,
    LedgerState,
    Mailing,
    MailingCopy,
    MailingCreate,
    MailingList,
    MailingPatch,
    MailingPreviewPublic,
    MailingPublic,
    RecipientList,
    Released,
    Scope,
)

IDEMPOTENCY_KEY_LENGTH = 200
LEDGER_PAGE_LIMIT = 10_000
CHECK_ATTEMPTS = 3  # a mailing changed between making the audience and claiming: made again


def _public(mailing: Mailing) -> dict:
    return MailingPublic.model_validate(mailing, from_attributes=True).model_dump(mode="json")


def _own(mailing_id: int) -> Mailing:
    return mailings.own_mailing(session(), g.account.id, mailing_id)


@endpoint(api, "/mailings", "POST", summary="Create a mailing from include and exclude segments",
          scope=Scope.MANAGE, body=MailingCreate, response=MailingPublic, status=201, conflicts=("conflict",),
          limits="the representative's `when` rule tree: " + limits.RULE_LIMITS)
def create_mailing() -> ResponseReturnValue:
    body = json_body(MailingCreate)
    mailing = mailings.create_mailing(
        session(), account=g.account, name=body.name, include=body.include, exclude=body.exclude,
        allow_shared_address=body.allow_shared_address, personalized_by=body.personalized_by,
        representative=body.representative)
    return _public(mailing), 201


@endpoint(api, "/mailings", "GET", summary="The account's mailings", scope=Scope.MANAGE,
          response=MailingList)
def list_mailings() -> ResponseReturnValue:
    return {"mailings": [_public(m) for m in mailings.mailings_of(session(), g.account.id)]}


@endpoint(api, "/mailings/<int:mailing_id>", "GET", summary="One mailing", scope=Scope.MANAGE,
          response=MailingPublic)
def get_mailing(mailing_id: int) -> ResponseReturnValue:
    return _public(_own(mailing_id))


@endpoint(api, "/mailings/<int:mailing_id>", "PATCH",
          summary="Change a mailing (the parts given) until a check first clears anyone",
          scope=Scope.MANAGE, body=MailingPatch, response=MailingPublic,
          conflicts=("conflict", "mailing_started"),
          limits="the representative's `when` rule tree: " + limits.RULE_LIMITS)
def change_mailing(mailing_id: int) -> ResponseReturnValue:
    body = json_body(MailingPatch)
    changes = body.model_dump(exclude_unset=True)
    for part in ("name", "include", "exclude", "allow_shared_address", "personalized_by"):
        if part in changes and changes[part] is None:
            raise InvalidInput(f"{part} cannot be null", part=part)
    mailing = mailings.change_mailing(session(), account=g.account, mailing=_own(mailing_id),
                                      changes=changes)
    return _public(mailing)


@endpoint(api, "/mailings/<int:mailing_id>", "DELETE",
          summary="Delete a mailing until a check first clears anyone", scope=Scope.MANAGE,
          status=204, conflicts=("mailing_started",))
def delete_mailing(mailing_id: int) -> ResponseReturnValue:
    mailings.delete_mailing(session(), _own(mailing_id))
    return "", 204


@endpoint(api, "/mailings/<int:mailing_id>/copy", "POST",
          summary="Copy a mailing: the same settings, a new (empty) send ledger",
          scope=Scope.MANAGE, body=MailingCopy, response=MailingPublic, status=201, conflicts=("conflict",))
def copy_mailing(mailing_id: int) -> ResponseReturnValue:
    body = json_body(MailingCopy)
    copy = mailings.copy_mailing(session(), account=g.account, mailing=_own(mailing_id), name=body.name)
    return _public(copy), 201


@endpoint(api, "/mailings/<int:mailing_id>/preview", "GET",
          summary="The mailing's counts, and how many clearances it holds",
          scope=Scope.MANAGE, response=MailingPreviewPublic)
def preview_mailing(mailing_id: int) -> ResponseReturnValue:
    mailing = _own(mailing_id)
    audience = mailings.mailing_audience(session(), g.account, mailing)
    return preview_answer(audience, claimed=ledger.claimed_count(session(), mailing.id))


@endpoint(api, "/mailings/<int:mailing_id>/recipients", "GET",
          summary="The mailing's send list: JSON pages or the whole list as CSV",
          scope=Scope.MANAGE, query=RECIPIENTS_QUERY, choices=RECIPIENTS_CHOICES, response=RecipientList,
          page_limit=SEND_LIST_PAGE_LIMIT)
def mailing_recipients(mailing_id: int) -> ResponseReturnValue:
    audience = mailings.mailing_audience(session(), g.account, _own(mailing_id))
    return recipients_answer(audience, f"mailing-{mailing_id}-recipients.csv")


def _within_batch(items: list) -> None:
    limits.check_batch(len(items), current_app.config["MAX_BATCH"], "contacts or addresses")


@endpoint(api, "/mailings/<int:mailing_id>/check", "POST",
          summary="Before a send: which of these recipients may get the mailing (claims them)",
          scope=Scope.SEND, body=CheckBody, response=CheckResponse,
          conflicts=("idempotency_conflict",),
          headers={"Idempotency-Key": "a retry with the same key gets the same answer"},
          limits=limits.BATCH_LIMIT)
def check(mailing_id: int) -> ResponseReturnValue:
    body = json_body(CheckBody)
    raw = request.get_json()  # json_body made sure it is an object
    if (body.contacts is None) == (body.addresses is None):
        raise InvalidInput('send either "contacts" (ids) or "addresses", not both', part="body")
    _within_batch(body.contacts or body.addresses or [])
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput(f"Idempotency-Key must have 1 to {IDEMPOTENCY_KEY_LENGTH} characters")
    started = started_audiences(current_app)
    for attempt in range(1, CHECK_ATTEMPTS + 1):
        audience = started.get(g.account, mailing_id)
        guard: send_check.Guard | None = None  # a started mailing's settings are fixed
        on_started = None
        if audience is None:
            mailing = _own(mailing_id)
            audience = mailings.mailing_audience(session(), g.account, mailing)
            guard = partial(mailings.settings_still, mailing_id=mailing.id,
                            expected=mailings.settings_of(mailing))
            on_started = partial(started.keep, mailing.id, audience)
        session().close()  # the check runs in a transaction of its own; hold no second connection
        try:
            answer = send_check.run_check(
                current_engine(), audience, mailing_id, contact_ids=body.contacts,
                addresses=body.addresses, idempotency_key=key, fingerprint=send_check.body_hash(raw),
                guard=guard, on_started=on_started)
        except send_check.MailingChanged:
            if attempt == CHECK_ATTEMPTS:
                raise
            continue  # changed (or deleted) meanwhile: made again from what it is now (or a 404)
        metrics.count_verdicts(answer["results"])
        return answer
    raise AssertionError("unreachable")


@endpoint(api, "/mailings/<int:mailing_id>/release", "POST",
          summary="Release claims (delivery failed before sending): the address is free again",
          scope=Scope.SEND, body=ContactIds, response=Released, limits=limits.BATCH_LIMIT)
def release(mailing_id: int) -> ResponseReturnValue:
    body = json_body(ContactIds)
    _within_batch(body.contacts)
    mailing = _own(mailing_id)
    return {"released": send_check.set_state(current_engine(), mailing.id, body.contacts,
                                             to=LedgerState.RELEASED)}


@endpoint(api, "/mailings/<int:mailing_id>/confirm", "POST",
          summary="Confirm claims as sent", scope=Scope.SEND, body=ContactIds, response=Confirmed,
          limits=limits.BATCH_LIMIT)
def confirm(mailing_id: int) -> ResponseReturnValue:
    body = json_body(ContactIds)
    _within_batch(body.contacts)
    mailing = _own(mailing_id)
    return {"confirmed": send_check.set_state(current_engine(), mailing.id, body.contacts,
                                              to=LedgerState.SENT)}


@endpoint(api, "/mailings/<int:mailing_id>/ledger", "GET",
          summary="Who was cleared, sent to and released: JSON pages or the whole ledger as CSV",
          scope=Scope.MANAGE, response=LedgerPublic,
          query={"format": "json (default, paged) or csv (streamed)",
                 "cursor": "the next_cursor of the previous page", "limit": "at most 10000",
                 **CSV_FORMAT_QUERY},
          choices=RECIPIENTS_CHOICES, page_limit=LEDGER_PAGE_LIMIT)
def mailing_ledger(mailing_id: int) -> ResponseReturnValue:
    mailing = _own(mailing_id)
    kind = request.args.get("format", "json")
    if kind not in LIST_FORMATS:
        raise InvalidInput("format must be json or csv", part="format")
    if kind == "csv":
        dialect = csv_dialect()
        return csv_response(ledger.ledger_rows(current_engine(), mailing.id),
                            f"mailing-{mailing.id}-ledger.csv", **dialect)
    cursor, limit = page_args(default=1000, maximum=LEDGER_PAGE_LIMIT)
    entries, next_cursor = ledger.ledger_page(session(), mailing.id, after=cursor, limit=limit)
    return LedgerPublic.model_validate({"entries": entries, "next_cursor": next_cursor}
                                       ).model_dump(mode="json")
