"""Changing an account's dedup rule: the impact preview, apply and undo, each in one transaction.

While a change is applied or undone, nothing else writes to the account: imports lock the
account row (and wait for the change's lock), checks take a shared lock on the account that a
change takes exclusively (PostgreSQL advisory locks; SQLite has one writer at a time anyway).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, exists, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from importer.said import said, word
from importer.vocabulary import DedupMode
from segments.compiler import RuleCompiler
from segments.merge import merge_by_address, preview_merge, undo_merge
from segments.representative import parse_representative
from segments.tables import contacts, external_ids
from service.domain.segments import catalog_of, rules_checked
from service.errors import Conflict, InvalidInput, NotFound
from service.models import MAX_ID, Account, DedupChange, Link, utcnow

# The advisory lock's class: (CHANGE_LOCK, account id) is held while a change is applied.
CHANGE_LOCK = 5001
EXAMPLES = 20

accounts_table = Account.__table__  # type: ignore[attr-defined]
changes = DedupChange.__table__  # type: ignore[attr-defined]


def hold_account_for_change(conn: Connection, account_id: int) -> None:
    """Take the account for a dedup change: no import or check of it runs meanwhile."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:kind, :account)"),
                     {"kind": CHANGE_LOCK, "account": account_id})
        conn.execute(select(accounts_table.c.id).where(accounts_table.c.id == account_id).with_for_update())


def wait_for_change(conn: Connection, account_id: int) -> None:
    """Wait while a dedup change of the account is being applied (checks call this first)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:kind, :account)"),
                     {"kind": CHANGE_LOCK, "account": account_id})


def _link(session: Session, account_id: int, name: str | None) -> Link:
    if not name:
        raise InvalidInput(said("to external_id needs the link whose IDs identify contacts"), part="link")
    link = session.scalars(select(Link).where(col(Link.account_id) == account_id,
                                              col(Link.name) == name)).first()
    if link is None:
        raise InvalidInput(said("this account has no link named '%(name)s'", name=name), part="link")
    return link


def preview(session: Session, account: Account, *, to: str, link: str | None = None,
            representative: Any = None) -> dict[str, Any]:
    """What the change would do to the account's contacts."""
    _check_target(account, to)
    conn = session.connection()
    if to == "external_id":
        found = _link(session, account.id, link)
        return {"to": to, "link": found.name, **_without_ids(conn, account.id, found.id)}
    catalog = catalog_of(session, account.id)
    with rules_checked():
        rule = parse_representative(representative, catalog)
    impact = preview_merge(conn, account.id, rule, RuleCompiler(catalog, utcnow()))
    return {"to": to, "representative": rule.to_json(), **impact.to_json()}


def _check_target(account: Account, to: str) -> None:
    if to not in tuple(DedupMode):
        raise InvalidInput(said("to must be email or external_id"), part="to")
    if account.dedup_mode == to:
        raise Conflict(said("the account deduplicates by %(to)s already", to=word(to)))


def _without_ids(conn: Connection, account_id: int, link_id: int) -> dict[str, Any]:
    """Contacts with no ID (own or merged) for the link: by that link they could not be matched."""
    lacking = ~exists(select(1).select_from(external_ids).where(
        external_ids.c.contact_id == contacts.c.id, external_ids.c.link_id == link_id))
    mine = contacts.c.account_id == account_id
    total = conn.execute(select(func.count()).where(mine)).scalar_one()
    count = conn.execute(select(func.count()).where(mine, lacking)).scalar_one()
    examples = conn.execute(select(contacts.c.id, contacts.c.email).where(mine, lacking)
                            .order_by(contacts.c.id).limit(EXAMPLES)).mappings().all()
    return {"contacts": total, "without_id": count, "examples": [dict(row) for row in examples]}


def apply(engine: Engine, session: Session, account: Account, *, to: str, link: str | None = None,
          representative: Any = None) -> dict[str, Any]:
    """Change the account's dedup rule, merging contacts that share an address when to `email`."""
    _check_target(account, to)
    link_id = _link(session, account.id, link).id if to == "external_id" else None
    catalog = catalog_of(session, account.id)
    with rules_checked():
        rule = parse_representative(representative, catalog)
    session.close()
    now = utcnow()
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        hold_account_for_change(conn, account.id)
        current = conn.execute(select(accounts_table.c.dedup_mode).where(
            accounts_table.c.id == account.id)).scalar_one()
        if current == to:  # another change got there first
            raise Conflict(said("the account deduplicates by %(to)s already", to=word(to)))
        change_id = conn.execute(changes.insert().values(
            account_id=account.id, from_mode=current, to_mode=to, link_id=link_id,
            representative=rule.to_json(), merged=0, created_at=now).returning(changes.c.id)).scalar_one()
        merged = 0
        if to == "email":
            merged = merge_by_address(conn, account.id, change_id, rule, RuleCompiler(catalog, now), now)
        conn.execute(update(changes).where(changes.c.id == change_id).values(merged=merged))
        # The contacts' copy of the mode follows (ON UPDATE CASCADE); in `email` mode the
        # database now refuses a second contact at an address.
        conn.execute(update(accounts_table).where(accounts_table.c.id == account.id).values(dedup_mode=to))
    return {"change_id": change_id, "from": current, "to": to, "merged": merged}


def undo(engine: Engine, account: Account, change_id: int) -> dict[str, Any]:
    """Take back the account's latest change: its mode, and every contact it merged away."""
    if not 1 <= change_id <= MAX_ID:  # names nothing stored (and the database could not compare it)
        raise NotFound("dedup change")
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        hold_account_for_change(conn, account.id)
        change = conn.execute(select(changes).where(changes.c.id == change_id,
                                                    changes.c.account_id == account.id)).mappings().first()
        if change is None:
            raise NotFound("dedup change")
        if change["undone_at"] is not None:
            raise Conflict(said("change %(change_id)s was undone already", change_id=change_id))
        latest = conn.execute(select(func.max(changes.c.id)).where(
            changes.c.account_id == account.id, changes.c.undone_at.is_(None))).scalar_one()
        if latest != change_id:
            raise Conflict(said("undo change %(latest)s first: it came after %(change_id)s",
                                latest=latest, change_id=change_id))
        try:
            with conn.begin_nested():
                conn.execute(update(accounts_table).where(accounts_table.c.id == account.id)
                             .values(dedup_mode=change["from_mode"]))
                restored = undo_merge(conn, account.id, change_id, change["from_mode"], utcnow())
        except IntegrityError:
            raise Conflict(said("contacts now share addresses, which the previous rule (email) does not "
                                "allow; change to email with a merge instead of undoing")) from None
        conn.execute(update(changes).where(changes.c.id == change_id).values(undone_at=utcnow()))
    return {"change_id": change_id, "restored": restored, "dedup_mode": change["from_mode"]}


def history(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.connection().execute(select(changes).where(changes.c.account_id == account_id)
                                        .order_by(changes.c.id.desc())).mappings().all()
    return [{"change_id": r["id"], "from": r["from_mode"], "to": r["to_mode"], "merged": r["merged"],
             "created_at": r["created_at"], "undone_at": r["undone_at"]} for r in rows]
