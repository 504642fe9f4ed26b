"""Segments of an account, and the audiences (who is reached, how it collapses) that rules make.

The segment engine knows nothing of the database's models; this module reads what it needs
(the account's fields and links, a segment's rules) and hands it over. A rule the engine
refuses is an InvalidInput naming the part of the tree that is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from importer.said import message_of, said
from segments.collapse import Audience, check_personalized_by, recipients
from segments.compiler import RuleCompiler
from segments.field_indexes import indexed_columns
from segments.representative import parse_representative
from segments.rules import (
    STORED_RULE_LIMITS,
    Catalog,
    RuleError,
    RuleLimitExceeded,
    RuleLimits,
    mentions_status,
    parse_rules,
)
from service.db import MAX_ID, all_of, begin_write, insert_unique, own
from service.domain.accounts import fields_of, links_of
from service.errors import Conflict, InvalidInput, NotFound
from service.limits import rule_refusal
from service.models import Account, Mailing, Segment, utcnow

BOOLEAN_TEXT = {"1": "true", "0": "false"}


@contextmanager
def rules_checked() -> Iterator[None]:
    """Say the engine's RuleError as the domain's InvalidInput, naming the part that is wrong (a tree
    past the rule limits: TooLarge, naming the limit)."""
    try:
        yield
    except RuleLimitExceeded as error:
        raise rule_refusal(error) from None
    except RuleError as error:
        raise InvalidInput(message_of(error), part=error.where, expected=error.expected) from None


def catalog_of(session: Session, account_id: int) -> Catalog:
    """What the account's rules may name: its fields and its links."""
    return Catalog(fields={f.name: f.type for f in fields_of(session, account_id)},
                   links={link.name: link.id for link in links_of(session, account_id)})


def create_segment(session: Session, *, account: Account, name: str, rules: Any) -> Segment:
    with rules_checked():  # a bad rule is refused before it is stored
        parse_rules(rules, catalog_of(session, account.id))
    segment = Segment(account_id=account.id, name=name, rules=rules)
    return insert_unique(session, segment, _taken(name))


def _taken(name: str) -> str:
    return said("this account has a segment named '%(name)s' already", name=name)


def mailings_using(session: Session, segment: Segment) -> list[Mailing]:
    """The account's mailings that include or exclude the segment."""
    mailings = session.exec(select(Mailing).where(Mailing.account_id == segment.account_id)
                            .order_by(Mailing.id))  # type: ignore[arg-type]
    return [m for m in mailings if segment.id in m.include or segment.id in m.exclude]


def _refuse_in_use(session: Session, segment: Segment, deleting: bool) -> None:
    using = mailings_using(session, segment)
    if using:
        names = ", ".join(f"'{m.name}'" for m in using)
        session.rollback()  # the write's lock goes at once
        refusal = (said("cannot delete segment '%(name)s': mailing %(names)s uses it",
                        name=segment.name, names=names) if deleting else
                   said("cannot change the rules of segment '%(name)s': mailing %(names)s uses it",
                        name=segment.name, names=names))
        raise Conflict(refusal, code="in_use")


def lock_segments(session: Session, account_id: int, ids: list[int], *, share: bool) -> set[int]:
    """Lock the account's segments among `ids` until the transaction ends; return the ids found.

    A mailing being made shares the lock on its segments; deleting a segment, or changing its rules,
    takes it alone, so that neither misses the other (SQLite's write lock already serialises them).
    """
    wanted = [i for i in ids if 0 < i <= MAX_ID]
    if not wanted:
        return set()
    query = select(Segment.id).where(Segment.account_id == account_id,
                                     col(Segment.id).in_(wanted)).with_for_update(read=share)
    with session.no_autoflush:
        return set(session.exec(query))


def _locked(session: Session, segment: Segment) -> None:
    """Start the write's transaction with the segment locked alone, and read it afresh there."""
    begin_write(session)
    if not lock_segments(session, segment.account_id, [segment.id], share=False):
        session.rollback()
        raise NotFound("segment")  # deleted meanwhile
    session.refresh(segment)


def change_segment(session: Session, *, account: Account, segment_id: int, name: str | None = None,
                   rules: Any = None) -> Segment:
    """Rename a segment or change its rules (checked first). Its rules stay as they are while a
    mailing uses it: the mailing's send list, and the checks already answered, depend on them."""
    segment = own_segment(session, account.id, segment_id)
    if rules is not None:
        with rules_checked():
            parse_rules(rules, catalog_of(session, account.id))
    _locked(session, segment)  # the mailings are read in the write's transaction
    if rules is not None and rules != segment.rules:
        _refuse_in_use(session, segment, deleting=False)
        segment.rules = rules
    if name is not None:
        segment.name = name
    session.add(segment)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(_taken(str(name))) from None
    return segment


def remove_segment(session: Session, *, account: Account, segment_id: int) -> None:
    """Delete a segment; refused (Conflict `in_use`) while a mailing includes or excludes it."""
    segment = own_segment(session, account.id, segment_id)
    _locked(session, segment)
    _refuse_in_use(session, segment, deleting=True)
    session.delete(segment)
    session.commit()


def own_segment(session: Session, account_id: int, segment_id: int) -> Segment:
    """The account's segment; NotFound also for another account's segment."""
    return own(session, Segment, segment_id, account_id, "segment")


def segments_of(session: Session, account_id: int) -> list[Segment]:
    return all_of(session, Segment, account_id)


def segment_audience(session: Session, account: Account, segment: Segment, *,
                     allow_shared_address: bool = False, personalized_by: list[str] | None = None,
                     representative: Any = None) -> Audience:
    """Whom the segment reaches, collapsed as asked."""
    return rules_audience(session, account, segment.rules, allow_shared_address=allow_shared_address,
                          personalized_by=personalized_by, representative=representative,
                          limits=STORED_RULE_LIMITS)


def rules_audience(session: Session, account: Account, rules: Any, *,
                   allow_shared_address: bool = False, personalized_by: list[str] | None = None,
                   representative: Any = None, limits: RuleLimits | None = None) -> Audience:
    """Whom a rule tree reaches, saved as a segment or not (the builder's live preview); `limits`
    for the tree as for parse_rules."""
    catalog = catalog_of(session, account.id)
    with rules_checked():
        rule = parse_rules(rules, catalog, limits=limits)
        return Audience(
            account_id=account.id,
            dedup_mode=account.dedup_mode,
            compiler=RuleCompiler(catalog, utcnow(), indexed_columns(session.connection(), catalog.fields)),
            include=(rule,),
            status_ruled=mentions_status(rule),
            allow_shared_address=allow_shared_address,
            personalized_by=personalisation(catalog, allow_shared_address, personalized_by or []),
            representative=parse_representative(representative, catalog),
        )


def personalisation(catalog: Catalog, allow_shared_address: bool, names: list[str]) -> tuple[str, ...]:
    """The fields that make one copy per combination at an address; only with the opt-in."""
    if names and not allow_shared_address:
        raise RuleError("personalized_by", said("applies only with allow_shared_address: true (without the "
                                                "opt-in every address gets one copy)"))
    return check_personalized_by(names, catalog)


def send_list_rows(engine: Engine, audience: Audience) -> Iterator[list[str]]:
    """The send list as CSV rows: a header, then each recipient with the account's fields and its
    ID in each of the account's links (a column named after the link).

    It reads on a connection of its own, so that it can be streamed after a request has ended.
    """
    fields, links = audience.compiler.catalog.fields, audience.compiler.catalog.links
    names = list(fields)
    booleans = [i for i, name in enumerate(names, start=3) if fields[name] == "boolean"]
    yield ["id", "email", "status", *names, *links]
    with engine.connect() as conn:
        for row in recipients(conn, audience, names, link_ids=list(links.values())):
            cells = ["" if value is None else str(value) for value in row]
            for i in booleans:  # SQLite reads JSON booleans as 1 and 0
                cells[i] = BOOLEAN_TEXT.get(cells[i], cells[i])
            yield cells
