"""Send lists: who a segment or mailing reaches, collapsed to one recipient per address.

An `Audience` says which contacts match and how the list collapses. Its preview counts come from
one grouped pass over the account's contacts (the representative does not change any count), and
its recipients from one statement: eligible contacts that no better contact at the same address
(and personalisation) outranks, which also serves one page at a time without ranking everyone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Boolean,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import ColumnElement, FromClause, Subquery
from sqlalchemy.sql.expression import ColumnClause, Exists, ScalarSelect
from sqlalchemy.sql.visitors import iterate

from importer.said import said
from segments.compiler import RuleCompiler, mailable, without_index
from segments.field_indexes import index_holding
from segments.representative import DEFAULT, RepresentativeRule, outranks
from segments.rules import INDEXED_FIELDS, Catalog, Rule, RuleError, fields_in
from segments.tables import ADDRESS_INDEX, contacts, external_ids

RECIPIENT_COLUMNS = ("id", "email", "address_key", "status", "attributes", "created_at", "updated_at")


@dataclass(frozen=True)
class Audience:
    """Whom a segment or mailing reaches in one account, and how its send list collapses.

    `status_ruled`: the rules test `status` themselves, so they (not the default of leaving out
    unsubscribed and bounced contacts) decide who is in. Mailings never set it.
    """

    account_id: int
    dedup_mode: str
    compiler: RuleCompiler
    include: tuple[Rule, ...]
    exclude: tuple[Rule, ...] = ()
    status_ruled: bool = False
    allow_shared_address: bool = False
    personalized_by: tuple[str, ...] = ()
    representative: RepresentativeRule = DEFAULT

    def without_field_indexes(self) -> Audience:
        """The same audience, compiled without counting on the field indexes (SQLite's columns)."""
        return replace(self, compiler=replace(self.compiler, columns={}))

    def knowing_bounces(self, address_bounced: ColumnElement[bool]) -> Audience:
        """The same audience, for a statement that knows whether each contact's address bounced."""
        return replace(self, compiler=replace(self.compiler, address_bounced=address_bounced))

    def matches(self, c: FromClause, *, where: bool = False) -> ColumnElement[bool]:
        """Matches an include rule and no exclude rule (status aside, unless a rule tests it).

        `where`: the test is only used as a WHERE or FILTER condition, so it may be NULL where it
        would be false (see `RuleCompiler.__call__`); exclude rules stay two-valued (negated).
        """
        taken = or_(false(), *(self.compiler(rule, c, where=where) for rule in self.include))
        if not self.exclude:
            return taken
        return and_(taken, ~or_(false(), *(self.compiler(rule, c) for rule in self.exclude)))

    @property
    def reads_documents(self) -> bool:
        """Does deciding who is in read the contacts' fields or IDs (not only indexed columns)?"""
        names = {name for rule in self.include + self.exclude for name in fields_in(rule)}
        return bool(self.personalized_by) or not names <= INDEXED_FIELDS

    @property
    def collapses(self) -> bool:
        """One recipient per address (or per personalisation at an address)?"""
        if self.dedup_mode != "external_id":
            return False  # in email mode an address is one contact already
        return not self.allow_shared_address or bool(self.personalized_by)

    def eligible(self, c: FromClause, *, where: bool = False) -> ColumnElement[bool]:
        """Matches and may be sent to (`where`: as for `matches`)."""
        if self.status_ruled:
            return self.matches(c, where=where)
        return and_(self.matches(c, where=where), mailable(c))

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
            raise RuleError(f"{where}[{i}]", said("unknown field %(name)s; personalise by one of the "
                                                  "account's fields: %(fields)s",
                                                  name=repr(name),
                                                  fields=', '.join(catalog.fields) or 'none yet'))
    if len(set(names)) != len(names):
        raise RuleError(where, said("names a field twice"))
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
    if conn.dialect.name == "postgresql":
        # One aggregate over a million rows: compiling it (JIT, 30-60 ms) costs more than it saves.
        conn.exec_driver_sql("SET LOCAL jit = off")
        if audience.reads_documents and not audience.status_ruled:
            # The matching contacts are hashed by address (read in table order, as they must be for
            # their documents): in memory, not spilled to disk in batches. Not for index-only
            # rules: more memory makes the planner hash them too, instead of walking the address
            # index in order (three times slower). Not for rules on the status either (no bounce
            # join): status + boolean on 1M took 1.30-1.61 s with it, 0.93-1.37 s without.
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    try:
        row = conn.execute(_preview_query(audience, conn.dialect.name)).one()
    except OperationalError as error:
        if not audience.compiler.columns or "no such index" not in str(error.orig):
            raise
        # SQLite: the field index named (INDEXED BY) was dropped since the columns were read (the
        # workers drop those no segment wants). Its column stays: the same count without the hint.
        row = conn.execute(_preview_query(audience.without_field_indexes(), conn.dialect.name)).one()
    contacts_, excluded, addresses, two, three, more, slots = (int(v or 0) for v in row)
    if not audience.collapses:
        recipients = contacts_
    elif audience.personalized_by:
        recipients = slots
    else:
        recipients = addresses
    return Preview(contacts_, excluded, addresses, recipients, {"2": two, "3": three, "4+": more})


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # `count(*) FILTER`, not `sum(CASE ...)`: on SQLite a third fewer steps per row.
    return func.count().filter(condition)


def _preview_query(audience: Audience, dialect: str) -> Select:
    tested = any(fields_in(rule) for rule in audience.include + audience.exclude)
    if not audience.personalized_by and not audience.status_ruled and not tested:
        return _preview_of_everyone(audience)
    # SQLite: the index in address order that holds what the rules read, if one does. (Told that
    # no address bounced, a status test looks nothing up, as in the walk.) Rules on the address
    # alone are grouped as below, which walks the address index too, without the bounces'
    # count for every contact: 0.15 s a million instead of 0.52 s.
    index = (_one_index(audience.knowing_bounces(false()))
             if dialect == "sqlite" and not audience.personalized_by else None)
    if index is not None and (audience.status_ruled or index != ADDRESS_INDEX):
        return _preview_of_everyone(audience, index)
    c = contacts.alias("c")
    account = without_index(c.c.account_id) if audience.reads_documents else c.c.account_id
    active = true() if audience.status_ruled else c.c.status == "active"
    # Only matching contacts are grouped by address (and personalisation); most addresses hold
    # one contact, so this is the whole work. Bounces are looked up per address afterwards.
    per_slot = (
        select(c.c.address_key, _count(active).label("n"), func.count().label("m"))
        .where(account == audience.account_id, audience.matches(c, where=True))
        .group_by(c.c.address_key, *audience.personalisation(c))
    ).subquery("per_slot")
    if audience.personalized_by:
        per_address = (
            select(per_slot.c.address_key, func.sum(per_slot.c.n).label("n"),
                   func.sum(per_slot.c.m).label("m"), _count(per_slot.c.n > 0).label("slots"))
            .group_by(per_slot.c.address_key)
        ).subquery("per_address")
        n: ColumnElement[Any] = per_address.c.n
        m: ColumnElement[Any] = per_address.c.m
        slots: ColumnElement[Any] = per_address.c.slots
        addresses: Subquery = per_address
    else:
        n, m, slots = per_slot.c.n, per_slot.c.m, case((per_slot.c.n > 0, 1), else_=0)
        addresses = per_slot
    source: FromClause = addresses
    if not audience.status_ruled:
        # A bounce belongs to the address, even when the contact that bounced does not match.
        bounced = _bounced_addresses(audience.account_id)
        source = addresses.outerjoin(bounced, bounced.c.address_key == addresses.c.address_key)
        n = case((bounced.c.address_key.is_not(None), 0), else_=n)
        slots = case((bounced.c.address_key.is_not(None), 0), else_=slots)
    return select(
        func.sum(n), func.sum(m) - func.sum(n), _count(n > 0),
        _count(n == 2), _count(n == 3), _count(n >= 4), func.sum(slots),
    ).select_from(source)


def _bounced_addresses(account_id: int) -> Subquery:
    """The account's addresses where a contact bounced, read from the small partial index of them.

    On SQLite the index's condition is written out (a partial index serves only a query that
    states it), and the account is not looked up by index: SQLite would then read the whole
    account's address index (0.2 s a million contacts) instead of the few bounced entries.
    """
    b = contacts.alias("b")
    return (select(b.c.address_key).distinct()
            .where(without_index(b.c.account_id) == account_id, b.c.status == literal_column("'bounced'"))
            ).subquery("bounced")


def _one_index(audience: Audience) -> str | None:
    """The index in address order that holds all that the test of who matches reads (the address,
    the status, and at most one generated field column: SQLite, segments/field_indexes.py), if any."""
    c = contacts.alias("c")
    read: set[str] = set()
    for element in iterate(audience.matches(c, where=True)):
        if isinstance(element, (Exists, Select, ScalarSelect)):
            return None  # another table (external IDs, an address's bounces)
        if isinstance(element, ColumnClause) and not element.is_literal:
            if element.table is not c:
                return None
            read.add(element.name)
    fields = read - {"account_id", "address_key", "status"}
    if not fields:
        return ADDRESS_INDEX
    if len(fields) == 1 and fields <= set(audience.compiler.columns.values()):
        return index_holding(fields.pop())
    return None


def _preview_of_everyone(audience: Audience, index: str | None = None) -> Select:
    """The preview in one pass over an index in address order, which holds the status too, so no
    table row is read: the account's address index for rules that test nothing (everyone, or no
    one); on SQLite the `index` that holds all the rules read (a field's, or the address index
    for rules on the status and the address).

    The contacts are grouped by address as the index gives them (no sort): those that match, and
    with them those that bounced, so that each group sees its address's bounces itself and no
    second lookup is needed. (Where the test reads a contact's document, walking the index would
    read every contact's row in address order, a random read each: several times slower.)
    """
    c = contacts.alias("c")
    bounced = _count(c.c.status == "bounced") > 0
    n: ColumnElement[Any]
    m: ColumnElement[Any]
    where: ColumnElement[bool] = true()
    if audience.status_ruled:
        # The rules decide who is in, by the status that counts (bounced at a bounced address):
        # tested both ways, each group takes the count for what its address is.
        at_bounced, elsewhere = (audience.knowing_bounces(known).matches(c, where=True)
                                 for known in (true(), false()))
        n = m = case((bounced, _count(at_bounced)), else_=_count(elsewhere))
        where = or_(at_bounced, elsewhere, c.c.status == "bounced")
    else:
        hit = audience.matches(c, where=True)  # counted in FILTER, where NULL is not counted
        n = case((bounced, 0), else_=_count(and_(hit, c.c.status == "active")))
        m = _count(hit)
        if index is not None:  # a rule on a field: only matching and bounced contacts are grouped
            where = or_(hit, c.c.status == "bounced")
    per_address = (
        select(n.label("n"), m.label("m"))
        .where(c.c.account_id == audience.account_id, where)
        .group_by(c.c.address_key)
    )
    if index is not None:
        per_address = per_address.with_hint(c, f"INDEXED BY {index}", "sqlite")
    return _preview_counts(per_address.subquery("per_address"))


def _preview_counts(per_address: Subquery) -> Select:
    """The preview's counts from the active (n) and matching (m) contacts of each address."""
    n, m = per_address.c.n, per_address.c.m
    return select(
        func.sum(n), func.sum(m) - func.sum(n), _count(n > 0),
        _count(n == 2), _count(n == 3), _count(n >= 4), _count(n > 0),
    )


def recipients_query(audience: Audience, *, after: int = 0, limit: int | None = None,
                     fields: Sequence[str] | None = None, link_ids: Sequence[int] = ()) -> Select:
    """The send list, in contact id order, from the contact after `after` on.

    With `fields`: the columns of a send-list file (id, email, status and those fields' values
    as text, read in the database so that a million rows need no JSON parsing in Python), then the
    contact's own ID for each of `link_ids` (a join each; the unique index on (contact, link) makes
    it one row at most, so a contact stays one row).
    """
    c = contacts.alias("c")
    source: FromClause = c
    # Walk the contacts in id order (the list's order), so that a page stops after its rows.
    columns: list[Any]
    if fields is None:
        columns = [c.c[name] for name in RECIPIENT_COLUMNS]
    else:
        columns = [c.c.id, c.c.email, c.c.status,
                   *(c.c.attributes[name].as_string().label(name) for name in fields)]
        for i, link_id in enumerate(link_ids):
            own = external_ids.alias(f"link_{i}")
            # `NOT merged`, as the partial unique index says it: SQLite uses a partial index only
            # when the query repeats its condition (`merged = 0` walked every ID of the contact).
            source = source.outerjoin(own, and_(own.c.contact_id == c.c.id, own.c.link_id == link_id,
                                                literal_column(f"NOT {own.name}.merged", Boolean)))
            columns.append(own.c.value.label(f"link_{i}"))
    query = select(*columns).select_from(source).where(
        without_index(c.c.account_id) == audience.account_id, c.c.id > after,
        audience.eligible(c, where=True))
    if audience.collapses:
        o = contacts.alias("o")
        query = query.where(~exists(select(literal(1)).select_from(o).where(
            audience.same_slot(o, c),
            o.c.id != c.c.id,
            outranks(audience.representative, audience.compiler, o, c),
            audience.eligible(o, where=True),
        )))
    query = query.order_by(c.c.id)
    return query if limit is None else query.limit(limit)


def recipients(conn: Connection, audience: Audience, fields: Sequence[str], *,
               link_ids: Sequence[int] = (), batch: int = 5000) -> Iterator[Row]:
    """Stream the whole send list (id, email, status, fields as text, the links' IDs), never held
    in memory."""
    if conn.dialect.name == "postgresql":
        # A server-side cursor makes the planner favour a fast first row (nested loops, one
        # probe per contact: 15 s for a million); the whole list is wanted, so plan for it.
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        recipients_query(audience, fields=fields, link_ids=link_ids))
    yield from result


