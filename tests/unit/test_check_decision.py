"""The pre-send check's decision for one recipient, and the slot a clearance takes, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from segments.collapse import Audience
from segments.compiler import RuleCompiler
from segments.rules import Catalog
from service.domain.send_check import decide, slot_of
from service.models import SkipReason, Verdict

KEY = "jan@home.nl"


def _facts(**changes: Any) -> dict[str, Any]:
    """What the check reads of a contact that may be sent to, with some of it changed."""
    return {"id": 7, "address_key": KEY, "in_audience": True, "status": "active", "bounced": False,
            "rank": 1, **changes}


def _decide(row: dict[str, Any], *, holders: dict[str, int] | None = None, holding: set[int] | None = None,
            winner: int = 7) -> tuple[Verdict, SkipReason | None, int | None]:
    decision = decide(7, row, KEY, holders or {}, holding or set(), {KEY: winner})
    return decision.verdict, decision.reason, decision.duplicate_of


def test_a_mailable_contact_that_nobody_holds_the_address_for_is_sent():
    assert _decide(_facts()) == (Verdict.SEND, None, None)


@pytest.mark.parametrize(("row", "reason"), [
    (_facts(in_audience=False), SkipReason.NOT_IN_MAILING),
    (_facts(status="unsubscribed"), SkipReason.UNSUBSCRIBED),
    (_facts(status="bounced"), SkipReason.BOUNCED),
    (_facts(bounced=True), SkipReason.BOUNCED),  # another contact at the address bounced
])
def test_each_reason_on_its_own(row, reason):
    assert _decide(row) == (Verdict.SKIP, reason, None)


def test_reasons_are_tried_in_the_contracts_order():
    everything = _facts(in_audience=False, status="unsubscribed", bounced=True)
    assert _decide(everything, holding={7}, holders={KEY: 8})[1] == SkipReason.NOT_IN_MAILING
    assert _decide(_facts(status="unsubscribed", bounced=True), holding={7})[1] == SkipReason.UNSUBSCRIBED
    assert _decide(_facts(bounced=True), holding={7}, holders={KEY: 8})[1] == SkipReason.BOUNCED
    assert _decide(_facts(), holding={7}, holders={KEY: 8})[1] == SkipReason.ALREADY_CLAIMED


def test_another_holder_of_the_address_makes_a_duplicate_that_names_it():
    assert _decide(_facts(), holders={KEY: 8}) == (Verdict.SKIP, SkipReason.DUPLICATE_ADDRESS, 8)


def test_holding_the_slot_oneself_is_not_a_duplicate():
    assert _decide(_facts(), holders={KEY: 7}) == (Verdict.SEND, None, None)


def test_within_a_batch_the_representative_wins_and_the_others_name_it():
    assert _decide(_facts(), winner=9) == (Verdict.SKIP, SkipReason.DUPLICATE_ADDRESS, 9)


def _audience(**options: Any) -> Audience:
    catalog = Catalog(fields={"first_name": "text"}, links={})
    return Audience(account_id=1, dedup_mode="external_id", compiler=RuleCompiler(catalog, datetime.now(UTC)),
                    include=(), **options)


def test_a_clearance_takes_the_address_without_the_opt_in():
    assert slot_of(_audience(), _facts()) == KEY


def test_with_the_opt_in_each_contact_has_a_slot_of_its_own():
    assert slot_of(_audience(allow_shared_address=True), _facts()) == "contact:7"


def test_with_personalisation_each_combination_at_an_address_has_a_slot():
    audience = _audience(allow_shared_address=True, personalized_by=("first_name",))
    jan, anna = slot_of(audience, _facts(p0="jan")), slot_of(audience, _facts(p0="anna"))
    assert jan.startswith(KEY + "#") and anna.startswith(KEY + "#") and jan != anna
    assert slot_of(audience, _facts(id=8, p0="jan")) == jan  # the same person twice: one copy
