"""Segments and mailings of an account, and the audiences (who is reached, how it collapses) they make.

The segment engine knows nothing of the database's models; this module reads what it needs
(the account's fields and links, a segment's rules, a mailing's settings) and hands it over.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from segments.collapse import Audience, check_personalized_by, recipients
from segments.compiler import RuleCompiler
from segments.representative import RepresentativeRule, parse_representative
from segments.rules import Catalog, Rule, RuleError, mentions_status, parse_rules
from service.accounts import fields_of, links_of
from service.db import insert_unique, owned
from service.errors import APIError, not_found
from service.models import Account, LedgerEntry, Mailing, Segment, utcnow

ACTIVE_STATES = ("claimed", "sent")


def catalog_of(session: Session, account_id: int) -> Catalog:
    """What the account's rules may name: its fields and its links."""
    return Catalog(fields={f.name: f.type for f in fields_of(session, account_id)},
                   links={link.name: link.id for link in links_of(session, account_id)})


def create_segment(session: Session, *, account: Account, name: str, rules: Any) -> Segment:
    parse_rules(rules, catalog_of(session, account.id))  # a bad rule is a 400 before it is stored
    segment = Segment(account_id=account.id, name=name, rules=rules)
    return insert_unique(session, segment, f"this account has a segment named '{name}' already")


def own_segment(session: Session, account_id: int, segment_id: int) -> Segment:
    """The account's segment, or 404 (also for another account's segment)."""
    segment = owned(session, Segment, segment_id, account_id)
    if segment is None:
        raise not_found("segment")
    return segment


def segments_of(session: Session, account_id: int) -> list[Segment]:
    return list(session.exec(select(Segment).where(Segment.account_id == account_id)
                             .order_by(Segment.id)))


def segment_audience(session: Session, account: Account, segment: Segment, *,
                     allow_shared_address: bool = False, personalized_by: list[str] | None = None,
                     representative: Any = None) -> Audience:
    """Whom the segment reaches, collapsed as asked."""
    return rules_audience(session, account, segment.rules, allow_shared_address=allow_shared_address,
                          personalized_by=personalized_by, representative=representative)


def rules_audience(session: Session, account: Account, rules: Any, *,
                   allow_shared_address: bool = False, personalized_by: list[str] | None = None,
                   representative: Any = None) -> Audience:
    """Whom a rule tree reaches, saved as a segment or not (the builder's live preview)."""
    catalog = catalog_of(session, account.id)
    rule = parse_rules(rules, catalog)
    compiler = RuleCompiler(catalog, utcnow())
    return Audience(
        account_id=account.id,
        dedup_mode=account.dedup_mode,
        compiler=compiler,
        include=(rule,),
        status_ruled=mentions_status(rule),
        allow_shared_address=allow_shared_address,
        personalized_by=_personalisation(catalog, allow_shared_address, personalized_by or []),
        representative=parse_representative(representative, catalog),
    )


def _personalisation(catalog: Catalog, allow_shared_address: bool, names: list[str]) -> tuple[str, ...]:
    if names and not allow_shared_address:
        raise RuleError("personalized_by", "applies only with allow_shared_address: true "
                                           "(without the opt-in every address gets one copy)")
    return check_personalized_by(names, catalog)


def create_mailing(session: Session, *, account: Account, name: str, include: list[int],
                   exclude: list[int], allow_shared_address: bool, personalized_by: list[str],
                   representative: Any) -> Mailing:
    catalog = catalog_of(session, account.id)
    for where, ids in (("include", include), ("exclude", exclude)):
        for i, segment_id in enumerate(ids):
            if owned(session, Segment, segment_id, account.id) is None:
                raise APIError(400, "invalid_request", f"{where}[{i}]: no segment {segment_id} "
                                                       "in this account")
    _personalisation(catalog, allow_shared_address, personalized_by)
    rule: RepresentativeRule = parse_representative(representative, catalog)
    mailing = Mailing(account_id=account.id, name=name, include=include, exclude=exclude,
                      allow_shared_address=allow_shared_address, personalized_by=personalized_by,
                      representative=rule.to_json())
    return insert_unique(session, mailing, f"this account has a mailing named '{name}' already")


def own_mailing(session: Session, account_id: int, mailing_id: int) -> Mailing:
    """The account's mailing, or 404 (also for another account's mailing)."""
    mailing = owned(session, Mailing, mailing_id, account_id)
    if mailing is None:
        raise not_found("mailing")
    return mailing


def mailings_of(session: Session, account_id: int) -> list[Mailing]:
    return list(session.exec(select(Mailing).where(Mailing.account_id == account_id)
                             .order_by(Mailing.id)))


def mailing_audience(session: Session, account: Account, mailing: Mailing) -> Audience:
    """Whom the mailing reaches: its include segments minus its exclude segments, never a
    contact that unsubscribed or bounced, whatever the segments' rules say."""
    catalog = catalog_of(session, account.id)
    segments = {s.id: s for s in session.exec(
        select(Segment).where(Segment.id.in_(mailing.include + mailing.exclude)))}  # type: ignore[union-attr]

    def rules(ids: list[int]) -> tuple[Rule, ...]:
        return tuple(parse_rules(segments[i].rules, catalog, f"segment {i}") for i in ids)

    compiler = RuleCompiler(catalog, utcnow())
    return Audience(
        account_id=account.id,
        dedup_mode=account.dedup_mode,
        compiler=compiler,
        include=rules(mailing.include),
        exclude=rules(mailing.exclude),
        allow_shared_address=mailing.allow_shared_address,
        personalized_by=tuple(mailing.personalized_by),
        representative=parse_representative(mailing.representative, catalog),
    )


def claimed_count(session: Session, mailing_id: int) -> int:
    """Clearances of the mailing not released (claimed or sent)."""
    return session.exec(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.mailing_id == mailing_id, LedgerEntry.state.in_(ACTIVE_STATES)  # type: ignore[attr-defined]
    )).one()



def send_list_rows(engine: Engine, audience: Audience) -> Iterator[list[str]]:
    """The send list as CSV rows: a header, then each recipient with the account's fields.

    It reads on a connection of its own, so that it can be streamed after a request has ended.
    """
    fields = audience.compiler.catalog.fields
    names = list(fields)
    booleans = [i for i, name in enumerate(names, start=3) if fields[name] == "boolean"]
    yield ["id", "email", "status", *names]
    with engine.connect() as conn:
        for row in recipients(conn, audience, names):
            cells = ["" if value is None else str(value) for value in row]
            for i in booleans:  # SQLite reads JSON booleans as 1 and 0
                cells[i] = BOOLEAN_TEXT.get(cells[i], cells[i])
            yield cells


BOOLEAN_TEXT = {"1": "true", "0": "false"}
