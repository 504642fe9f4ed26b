"""Mailings of an account: include segments minus exclude segments, and the audience they make.

A mailing's settings never change after it is made: the send ledger's slots depend on them.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from segments.collapse import Audience
from segments.compiler import RuleCompiler
from segments.representative import RepresentativeRule, parse_representative
from segments.rules import Rule, parse_rules
from service.db import all_of, begin_write, insert_unique, own, owned
from service.domain.segments import catalog_of, lock_segments, personalisation, rules_checked
from service.errors import InvalidInput
from service.models import Account, Mailing, Segment, utcnow


def create_mailing(session: Session, *, account: Account, name: str, include: list[int],
                   exclude: list[int], allow_shared_address: bool, personalized_by: list[str],
                   representative: Any) -> Mailing:
    catalog = catalog_of(session, account.id)
    for where, ids in (("include", include), ("exclude", exclude)):
        for i, segment_id in enumerate(ids):
            if owned(session, Segment, segment_id, account.id) is None:
                raise InvalidInput(f"{where}[{i}]: no segment {segment_id} in this account",
                                   part=f"{where}[{i}]")
    with rules_checked():
        personalisation(catalog, allow_shared_address, personalized_by)
        rule: RepresentativeRule = parse_representative(representative, catalog)
    # Its segments locked (shared) in the insert's transaction: none is deleted meanwhile.
    begin_write(session)
    missing = set(include + exclude) - lock_segments(session, account.id, include + exclude, share=True)
    if missing:
        session.rollback()
        raise InvalidInput(f"segment {min(missing)} was deleted meanwhile", part="include")
    mailing = Mailing(account_id=account.id, name=name, include=include, exclude=exclude,
                      allow_shared_address=allow_shared_address, personalized_by=personalized_by,
                      representative=rule.to_json())
    session.add(mailing)  # before insert_unique, which then keeps this transaction and its locks
    return insert_unique(session, mailing, f"this account has a mailing named '{name}' already")


def own_mailing(session: Session, account_id: int, mailing_id: int) -> Mailing:
    """The account's mailing; NotFound also for another account's mailing."""
    return own(session, Mailing, mailing_id, account_id, "mailing")


def mailings_of(session: Session, account_id: int) -> list[Mailing]:
    return all_of(session, Mailing, account_id)


def mailing_audience(session: Session, account: Account, mailing: Mailing) -> Audience:
    """Whom the mailing reaches: its include segments minus its exclude segments, never a
    contact that unsubscribed or bounced, whatever the segments' rules say."""
    catalog = catalog_of(session, account.id)
    segments = {s.id: s for s in session.exec(
        select(Segment).where(col(Segment.id).in_(mailing.include + mailing.exclude)))}

    def rules(ids: list[int]) -> tuple[Rule, ...]:
        return tuple(parse_rules(segments[i].rules, catalog, f"segment {i}") for i in ids)

    with rules_checked():
        return Audience(
            account_id=account.id,
            dedup_mode=account.dedup_mode,
            compiler=RuleCompiler(catalog, utcnow()),
            include=rules(mailing.include),
            exclude=rules(mailing.exclude),
            allow_shared_address=mailing.allow_shared_address,
            personalized_by=tuple(mailing.personalized_by),
            representative=parse_representative(mailing.representative, catalog),
        )
