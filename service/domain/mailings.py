"""Mailings of an account: include segments minus exclude segments, and the audience they make.

A mailing may be changed or deleted until a check first clears anyone; from then on its settings are
fixed (409 `mailing_started`), since the send ledger's slots depend on them. The change takes the
mailing's row lock (PostgreSQL: FOR UPDATE; SQLite: the write lock) and looks at the ledger under it;
a check re-reads the mailing's settings under a shared lock in its own transaction
(`settings_still`), so a check and a change never both win. A copy is a new mailing with an empty
ledger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, exists
from sqlmodel import Session, col, select

from importer.said import at, said
from segments.collapse import Audience
from segments.compiler import RuleCompiler
from segments.representative import RepresentativeRule, parse_representative
from segments.rules import STORED_RULE_LIMITS, Rule, parse_rules
from service.db import all_of, begin_write, insert_unique, own, owned
from service.domain.segments import catalog_of, lock_segments, personalisation, rules_checked
from service.errors import Conflict, InvalidInput
from service.models import Account, CheckRequest, LedgerEntry, Mailing, Segment, utcnow

# What a mailing sends and to whom: the parts a change may make, and a check depends on.
SETTINGS = ("include", "exclude", "allow_shared_address", "personalized_by", "representative")
MAX_NAME = 200
STARTED = said("a check has cleared recipients of this mailing: its settings are fixed; copy it to change "
               "them")


def create_mailing(session: Session, *, account: Account, name: str, include: list[int],
                   exclude: list[int], allow_shared_address: bool, personalized_by: list[str],
                   representative: Any) -> Mailing:
    settings = checked_settings(session, account, include=include, exclude=exclude,
                                allow_shared_address=allow_shared_address,
                                personalized_by=personalized_by, representative=representative)
    begin_write(session)
    _lock_its_segments(session, account.id, settings)
    mailing = Mailing(account_id=account.id, name=name, **settings)
    session.add(mailing)  # before insert_unique, which then keeps this transaction and its locks
    return insert_unique(session, mailing, _name_taken(name))


def _lock_its_segments(session: Session, account_id: int, settings: dict[str, Any]) -> None:
    """In the write's transaction, lock (shared) the segments the mailing names: none is deleted
    or has its rules changed meanwhile (service/domain/segments.py lock_segments)."""
    ids = settings["include"] + settings["exclude"]
    missing = set(ids) - lock_segments(session, account_id, ids, share=True)
    if missing:
        session.rollback()
        raise InvalidInput(said("segment %(missing)s was deleted meanwhile",
                                missing=min(missing)), part="include")


def checked_settings(session: Session, account: Account, *, include: list[int], exclude: list[int],
                     allow_shared_address: bool, personalized_by: list[str],
                     representative: Any) -> dict[str, Any]:
    """A mailing's settings once checked against the account (its segments and fields), as stored."""
    catalog = catalog_of(session, account.id)
    for where, ids in (("include", include), ("exclude", exclude)):
        for i, segment_id in enumerate(ids):
            if owned(session, Segment, segment_id, account.id) is None:
                raise InvalidInput(at(f"{where}[{i}]", said("no segment %(segment)s in this account",
                                                             segment=segment_id)),
                                   part=f"{where}[{i}]")
    with rules_checked():
        personalisation(catalog, allow_shared_address, personalized_by)
        rule: RepresentativeRule = parse_representative(representative, catalog)
    return {"include": include, "exclude": exclude, "allow_shared_address": allow_shared_address,
            "personalized_by": personalized_by, "representative": rule.to_json()}


def _name_taken(name: str) -> str:
    return said("this account has a mailing named '%(name)s' already", name=name)


def settings_of(mailing: Mailing) -> dict[str, Any]:
    return {name: getattr(mailing, name) for name in SETTINGS}


def has_started(session_or_conn: Session | Connection, mailing_id: int) -> bool:
    """Whether a check has cleared anyone for the mailing (released clearances count: they were sent
    to the mailing system under these settings)."""
    query = select(exists().where(col(LedgerEntry.mailing_id) == mailing_id))
    return bool(session_or_conn.execute(query).scalar())


def _lock_unstarted(session: Session, mailing: Mailing) -> Connection:
    """Take the mailing's row lock for a write and make sure no check has cleared anyone."""
    conn = begin_write(session)
    conn.execute(select(Mailing.id).where(Mailing.id == mailing.id).with_for_update())
    if has_started(conn, mailing.id):
        session.rollback()
        raise Conflict(STARTED, code="mailing_started")
    return conn


def change_mailing(session: Session, *, account: Account, mailing: Mailing, changes: dict[str, Any]
                   ) -> Mailing:
    """Change the parts of the mailing named in `changes` (the others stay), before its first
    clearance; checked as a new mailing is."""
    wanted = {**settings_of(mailing), **{k: v for k, v in changes.items() if k in SETTINGS}}
    settings = checked_settings(session, account, **wanted)
    name = changes.get("name") or mailing.name
    _lock_unstarted(session, mailing)
    _lock_its_segments(session, account.id, settings)
    for key, value in settings.items():
        setattr(mailing, key, value)
    mailing.name = name
    return insert_unique(session, mailing, _name_taken(name))


def delete_mailing(session: Session, mailing: Mailing) -> None:
    """Delete the mailing (and its idempotency records) before its first clearance."""
    conn = _lock_unstarted(session, mailing)
    conn.execute(delete(CheckRequest).where(col(CheckRequest.mailing_id) == mailing.id))
    conn.execute(delete(Mailing).where(col(Mailing.id) == mailing.id))
    session.commit()
    session.expunge(mailing)


def copy_mailing(session: Session, *, account: Account, mailing: Mailing, name: str | None,
                 default: str = "Copy of %(name)s") -> Mailing:
    """A new mailing with the same settings and an empty ledger, named `name`, else the first free
    of `default` ("Copy of spring", then "Copy of spring (2)", ...; the pages say it in their
    language)."""
    chosen = name or _free_name(session, account.id, default % {"name": mailing.name})
    return create_mailing(session, account=account, name=chosen, **settings_of(mailing))


def _free_name(session: Session, account_id: int, wanted: str) -> str:
    taken = {m.name for m in mailings_of(session, account_id)}
    candidates = (wanted if n == 1 else f"{wanted} ({n})" for n in range(1, len(taken) + 2))
    return next(c[:MAX_NAME] for c in candidates if c[:MAX_NAME] not in taken)


def settings_still(conn: Connection, mailing_id: int, expected: dict[str, Any]) -> bool:
    """In a check's transaction: whether the mailing still has the settings its audience was made
    from; the shared lock (PostgreSQL) keeps a change out until the check commits."""
    row = conn.execute(select(*(getattr(Mailing, name) for name in SETTINGS))
                       .where(Mailing.id == mailing_id).with_for_update(read=True)).first()
    return row is not None and dict(zip(SETTINGS, row, strict=True)) == expected


def own_mailing(session: Session, account_id: int, mailing_id: int) -> Mailing:
    """The account's mailing; NotFound also for another account's mailing."""
    return own(session, Mailing, mailing_id, account_id, "mailing")


def mailings_of(session: Session, account_id: int) -> list[Mailing]:
    return all_of(session, Mailing, account_id)


def mailing_audience(session: Session, account: Account, mailing: Mailing) -> Audience:
    """Whom the mailing reaches: its include segments minus its exclude segments, never a
    contact that unsubscribed or bounced, whatever the segments' rules say."""
    return settings_audience(session, account, settings_of(mailing))


def settings_audience(session: Session, account: Account, settings: dict[str, Any]) -> Audience:
    """Whom a mailing with these (checked) settings reaches: a mailing's, or a form's not saved yet."""
    catalog = catalog_of(session, account.id)
    include, exclude = settings["include"], settings["exclude"]
    segments = {s.id: s for s in session.exec(
        select(Segment).where(col(Segment.id).in_(include + exclude)))}

    def rules(ids: list[int]) -> tuple[Rule, ...]:
        return tuple(parse_rules(segments[i].rules, catalog, f"segment {i}", STORED_RULE_LIMITS) for i in ids)

    with rules_checked():
        return Audience(
            account_id=account.id,
            dedup_mode=account.dedup_mode,
            compiler=RuleCompiler(catalog, utcnow()),
            include=rules(include),
            exclude=rules(exclude),
            allow_shared_address=settings["allow_shared_address"],
            personalized_by=tuple(settings["personalized_by"]),
            representative=parse_representative(settings["representative"], catalog,
                                                limits=STORED_RULE_LIMITS),
        )
