"""Send lists: who a segment or mailing reaches, collapsed to one recipient per address.

An `Audience` says which contacts match and how the list collapses. Its preview counts come from
one grouped pass over the account's contacts (the representative does not change any count), and
its recipients from one statement: eligible contacts that no better contact at the same address
(and personalisation) outranks, which also serves one page at a time without ranking everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, exists, false, func, literal, or_, select, true
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import ColumnElement, FromClause

from segments.compiler import RuleCompiler, mailable
from segments.representative import DEFAULT, RepresentativeRule, outranks
from segments.rules import Catalog, Rule, RuleError
from segments.tables import contacts

Matcher = Callable[[FromClause], ColumnElement[bool]]
RECIPIENT_COLUMNS = ("id", "email", "address_key", "status", "attributes", "created_at", "updated_at")


@dataclass(frozen=True)
class Audience:
    """Whom a segment or mailing reaches in one account, and how its send list collapses.

    `status_ruled`: the rules test `status` themselves, so they (not the default of leaving out
    unsubscribed and bounced contacts) decide who is in. Mailings never set it.
    """

    account_id: int
    dedup_mode: str
    matches: Matcher
    compiler: RuleCompiler
    status_ruled: bool = False
    allow_shared_address: bool = False
    personalized_by: tuple[str, ...] = ()
    representative: RepresentativeRule = DEFAULT

    @property
    def collapses(self) -> bool:
        """One recipient per address (or per personalisation at an address)?"""
        if self.dedup_mode != "external_id":
            return False  # in email mode an address is one contact already
        return not self.allow_shared_address or bool(self.personalized_by)

    def eligible(self, c: FromClause) -> ColumnElement[bool]:
        """Matches and may be sent to."""
        if self.status_ruled:
            return self.matches(c)
        return and_(self.matches(c), mailable(c))

    def personalisation(self, c: FromClause) -> list[ColumnElement[Any]]:
        """The values whose combination gets its own copy at a shared address."""
        if not self.allow_shared_address:
            return []
        return [self.compiler.value_of(name, c) for name in self.personalized_by]

    def same_slot(self, o: FromClause, c: FromClause) -> ColumnElement[bool]:
        """Contacts o and c would receive one copy between them."""
        parts = [o.c.account_id == c.c.account_id, o.c.address_key == c.c.address_key]
        for value_o, value_c in zip(self.personalisation(o), self.personalisation(c), strict=True):
            parts.append(value_o.is_not_distinct_from(value_c))
        return and_(*parts)


def check_personalized_by(names: list[str], catalog: Catalog,
                          where: str = "personalized_by") -> tuple[str, ...]:
    """Personalisation fields must be the account's own fields, each named once."""
    for i, name in enumerate(names):
        if not isinstance(name, str) or name not in catalog.fields:
            raise RuleError(f"{where}[{i}]", f"unknown field {name!r}; personalise by one of the "
                                             f"account's fields: {', '.join(catalog.fields) or 'none yet'}")
    if len(set(names)) != len(names):
        raise RuleError(where, "names a field twice")
    return tuple(names)


@dataclass(frozen=True)
class Preview:
    contacts: int
    excluded: int
    addresses: int
    recipients: int
    shared: dict[str, int]

    @property
    def collapsed(self) -> int:
        return self.contacts - self.recipients

    def to_json(self) -> dict[str, Any]:
        return {"contacts": self.contacts, "excluded": self.excluded, "addresses": self.addresses,
                "recipients": self.recipients, "collapsed": self.collapsed, "shared": self.shared}


def preview(conn: Connection, audience: Audience) -> Preview:
    """Count contacts, excluded, addresses, recipients and shared addresses in one statement."""
    row = conn.execute(_preview_query(audience)).one()
    contacts_, excluded, addresses, two, three, more, slots = (int(v or 0) for v in row)
    if not audience.collapses:
        recipients = contacts_
    elif audience.personalized_by:
        recipients = slots
    else:
        recipients = addresses
    return Preview(contacts_, excluded, addresses, recipients, {"2": two, "3": three, "4+": more})


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _preview_query(audience: Audience) -> Select:
    c = contacts.alias("c")
    matches = audience.matches(c)
    # Per address: matching contacts, those of them that are active, and whether any contact
    # there bounced (a bounce belongs to the address, whether or not that contact matches).
    active = true() if audience.status_ruled else c.c.status == "active"
    per_slot = (
        select(c.c.address_key,
               _count(and_(matches, active)).label("n"),
               _count(matches).label("m"),
               func.max(case((c.c.status == "bounced", 1), else_=0)).label("bounced"))
        .where(c.c.account_id == audience.account_id)
        .group_by(c.c.address_key, *audience.personalisation(c))
    ).subquery("per_slot")
    per_address = (
        select(per_slot.c.address_key,
               func.sum(per_slot.c.n).label("n"),
               func.sum(per_slot.c.m).label("m"),
               func.max(per_slot.c.bounced).label("bounced"),
               _count(per_slot.c.n > 0).label("slots"))
        .group_by(per_slot.c.address_key)
    ).subquery("per_address")
    if audience.status_ruled:
        n, slots = per_address.c.n, per_address.c.slots
    else:
        n = case((per_address.c.bounced > 0, 0), else_=per_address.c.n)
        slots = case((per_address.c.bounced > 0, 0), else_=per_address.c.slots)
    return select(
        func.sum(n), func.sum(per_address.c.m) - func.sum(n), _count(n > 0),
        _count(n == 2), _count(n == 3), _count(n >= 4), func.sum(slots),
    )


def recipients_query(audience: Audience, *, after: int = 0, limit: int | None = None) -> Select:
    """The send list, in contact id order, from the contact after `after` on."""
    c = contacts.alias("c")
    query = select(*(c.c[name] for name in RECIPIENT_COLUMNS)).where(
        c.c.account_id == audience.account_id, c.c.id > after, audience.eligible(c))
    if audience.collapses:
        o = contacts.alias("o")
        query = query.where(~exists(select(literal(1)).select_from(o).where(
            audience.same_slot(o, c),
            o.c.id != c.c.id,
            outranks(audience.representative, audience.compiler, o, c),
            audience.eligible(o),
        )))
    query = query.order_by(c.c.id)
    return query if limit is None else query.limit(limit)


def recipients(conn: Connection, audience: Audience, *, batch: int = 5000) -> Iterator[RowMapping]:
    """Stream the whole send list without holding it in memory."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        recipients_query(audience))
    yield from result.mappings()



def rules_matcher(compiler: RuleCompiler, include: list[Rule], exclude: list[Rule] | None = None
                  ) -> Matcher:
    """Contacts that match any include rule and no exclude rule."""

    def matches(c: FromClause) -> ColumnElement[bool]:
        taken = or_(false(), *(compiler(rule, c) for rule in include))
        if not exclude:
            return taken
        return and_(taken, ~or_(false(), *(compiler(rule, c) for rule in exclude)))

    return matches
