"""Segments: named rule trees, their preview counts and their send lists."""

from __future__ import annotations

from flask import g, request
from flask.typing import ResponseReturnValue

from segments.collapse import Audience
from service import background, limits
from service.api.routing import api, endpoint, json_body, query_flag
from service.api.send_lists import (
    RECIPIENTS_CHOICES,
    RECIPIENTS_QUERY,
    SEND_LIST_PAGE_LIMIT,
    preview_answer,
    recipients_answer,
)
from service.db import session
from service.domain.segments import (
    change_segment,
    create_segment,
    own_segment,
    remove_segment,
    segment_audience,
    segments_of,
)
from service.models import (
    PreviewPublic,
    RecipientList,
    Scope,
    Segment,
    SegmentChange,
    SegmentCreate,
    SegmentList,
    SegmentPublic,
)

COLLAPSE_QUERY = {
    "allow_shared_address": "true: each contact at a shared address counts (the opt-in)",
    "personalized_by": "with the opt-in: comma-separated fields; one copy per combination at an address",
    "representative": "most_recently_updated (default), oldest, or the rule as JSON",
}


def _public(segment: Segment) -> dict:
    return SegmentPublic.model_validate(segment, from_attributes=True).model_dump(mode="json")


@endpoint(api, "/segments", "POST", summary="Save a segment (its rules are checked first)",
          scope=Scope.MANAGE, body=SegmentCreate, response=SegmentPublic, status=201, conflicts=("conflict",),
          limits=limits.RULE_LIMITS)
def post_segment() -> ResponseReturnValue:
    body = json_body(SegmentCreate)
    segment = create_segment(session(), account=g.account, name=body.name, rules=body.rules)
    background.segments_changed()
    return _public(segment), 201


@endpoint(api, "/segments", "GET", summary="The account's segments", scope=Scope.MANAGE,
          response=SegmentList)
def list_segments() -> ResponseReturnValue:
    return {"segments": [_public(s) for s in segments_of(session(), g.account.id)]}


@endpoint(api, "/segments/<int:segment_id>", "GET", summary="One segment", scope=Scope.MANAGE,
          response=SegmentPublic)
def get_segment(segment_id: int) -> ResponseReturnValue:
    return _public(own_segment(session(), g.account.id, segment_id))


@endpoint(api, "/segments/<int:segment_id>", "PATCH",
          summary="Rename a segment or change its rules (not while a mailing uses it)",
          scope=Scope.MANAGE, body=SegmentChange, response=SegmentPublic, conflicts=("conflict", "in_use"),
          limits=limits.RULE_LIMITS)
def patch_segment(segment_id: int) -> ResponseReturnValue:
    body = json_body(SegmentChange)
    segment = change_segment(session(), account=g.account, segment_id=segment_id, name=body.name,
                             rules=body.rules)
    background.segments_changed()
    return _public(segment)


@endpoint(api, "/segments/<int:segment_id>", "DELETE",
          summary="Delete a segment (not while a mailing includes or excludes it)",
          scope=Scope.MANAGE, status=204, conflicts=("in_use",))
def delete_segment(segment_id: int) -> ResponseReturnValue:
    remove_segment(session(), account=g.account, segment_id=segment_id)
    background.segments_changed()
    return "", 204


def _audience(segment_id: int) -> Audience:
    segment = own_segment(session(), g.account.id, segment_id)
    names = [n.strip() for n in request.args.get("personalized_by", "").split(",") if n.strip()]
    return segment_audience(
        session(), g.account, segment,
        allow_shared_address=query_flag("allow_shared_address"),
        personalized_by=names,
        representative=request.args.get("representative"),
    )


@endpoint(api, "/segments/<int:segment_id>/preview", "GET",
          summary="How many contacts, addresses and recipients the segment reaches",
          scope=Scope.MANAGE, query=COLLAPSE_QUERY, response=PreviewPublic)
def preview_segment(segment_id: int) -> ResponseReturnValue:
    return preview_answer(_audience(segment_id))


@endpoint(api, "/segments/<int:segment_id>/recipients", "GET",
          summary="The segment's send list: JSON pages or the whole list as CSV",
          scope=Scope.MANAGE, query={**RECIPIENTS_QUERY, **COLLAPSE_QUERY}, choices=RECIPIENTS_CHOICES,
          response=RecipientList, page_limit=SEND_LIST_PAGE_LIMIT)
def segment_recipients(segment_id: int) -> ResponseReturnValue:
    return recipients_answer(_audience(segment_id), f"segment-{segment_id}-recipients.csv")
