"""The pre-send check: a verdict for each recipient of a batch, and claims in the send ledger.

The send guarantees live in the database: the ledger's partial unique indexes let one active
clearance hold a slot (an address key, a personalisation at an address, or a contact with the
opt-in) and a contact. A check decides from what it reads, then inserts its claims with ON
CONFLICT DO NOTHING; a claim another worker won in between is answered from the ledger as it is
now. So any number of processes on any number of hosts can check overlapping batches at once.

A clearance holds the address it was given for: the ledger keeps the contact's normalized address
at the time of the check, and every `send` answer carries it, so a contact that moves afterwards
takes no second inbox with it.

Consent wins over a concurrent check: before claiming, the check locks the contacts it is about to
clear (PostgreSQL: FOR SHARE, which an event's status UPDATE waits for) and re-reads their status
under that lock; SQLite serialises writers (BEGIN IMMEDIATE). So once an event that unsubscribes
or bounces a contact has committed, no check clears that contact, and a check that cleared it
committed first.

A change of the mailing never meets a check halfway: the check re-reads the mailing's settings under a
shared lock in its own transaction (`guard`), and a check that finds them changed since its audience was
made claims nothing (MailingChanged: the caller makes the audience again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    DateTime,
    Engine,
    Select,
    bindparam,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.elements import TextClause

from importer.collector import collector_paused
from importer.said import said
from importer.transactions import ATTEMPTS, retryable
from importer.vocabulary import ContactStatus
from segments.batch import batch_query
from segments.collapse import Audience
from segments.tables import contacts
from segments.values import constant_one_of, one_of
from service.domain.contacts import lookup_key
from service.domain.dedup_change import wait_for_change
from service.errors import Conflict
from service.models import (
    ACTIVE_CLEARANCE,
    MAX_ID,
    CheckRequest,
    LedgerEntry,
    LedgerState,
    SkipReason,
    Verdict,
    utcnow,
)

ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
Guard = Callable[[Connection], bool]
check_requests = CheckRequest.__table__  # type: ignore[attr-defined]


class MailingChanged(Exception):
    """The mailing was changed or deleted after the check's audience was made; nothing was claimed."""


@dataclass
class Decision:
    """The check's answer for one recipient."""

    contact: int | None
    verdict: Verdict
    reason: SkipReason | None = None
    duplicate_of: int | None = None
    address: str | None = None  # on a send: the address the clearance holds

    def to_json(self, asked: str | None = None) -> dict[str, Any]:
        """The answer; `asked` is the address a check by address named (a send names its own)."""
        address = self.address if self.verdict == Verdict.SEND else asked
        answer: dict[str, Any] = {} if address is None else {"address": address}  # the keys' order
        answer["contact"] = self.contact
        answer["verdict"] = self.verdict
        if self.reason is not None:
            answer["reason"] = self.reason
        if self.duplicate_of is not None:
            answer["duplicate_of"] = self.duplicate_of
        return answer


def skip(contact: int | None, reason: SkipReason, duplicate_of: int | None = None) -> Decision:
    return Decision(contact, Verdict.SKIP, reason, duplicate_of)


def body_hash(body: dict[str, Any]) -> str:
    """A fingerprint of a request body, to tell a replay from a different request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_check(engine: Engine, audience: Audience, mailing_id: int, *,
              contact_ids: Sequence[int] | None = None, addresses: Sequence[str] | None = None,
              idempotency_key: str | None = None, fingerprint: str = "",
              guard: Guard | None = None, on_started: Callable[[], None] | None = None
              ) -> dict[str, Any]:
    """Check a batch (contact ids or addresses) and claim what may be sent, in one transaction;
    `guard`, called in it first, says whether the mailing is still as the audience has it;
    `on_started` is called once that transaction has committed with the mailing started."""
    # A batch makes tens of thousands of small objects that all live until the answer is sent;
    # the cyclic garbage collector would scan the whole heap several times meanwhile (a quarter
    # of a 10,000-contact check) and find nothing to free.
    with collector_paused():
        return _run_check(engine, audience, mailing_id, contact_ids, addresses, idempotency_key,
                          fingerprint, guard, on_started)


def _run_check(engine: Engine, audience: Audience, mailing_id: int, contact_ids: Sequence[int] | None,
               addresses: Sequence[str] | None, idempotency_key: str | None, fingerprint: str,
               guard: Guard | None, on_started: Callable[[], None] | None) -> dict[str, Any]:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
                wait_for_change(conn, audience.account_id)
                if guard is not None and not guard(conn):
                    raise MailingChanged
                if idempotency_key is not None:
                    replay = _reserve_key(conn, mailing_id, idempotency_key, fingerprint)
                    if replay is not None:
                        return replay
                answer = _check(conn, audience, mailing_id, contact_ids, addresses)
                if idempotency_key is not None:
                    conn.execute(update(check_requests).values(response=answer).where(
                        check_requests.c.mailing_id == mailing_id,
                        check_requests.c.idempotency_key == idempotency_key))
                started = on_started is not None and _has_entries(conn, mailing_id)
            if started and on_started is not None:
                on_started()  # committed: the ledger entry, and with it the start, is for good
            return answer
        except DBAPIError as error:  # deadlocks between workers claiming overlapping batches
            if not retryable(error) or attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _has_entries(conn: Connection, mailing_id: int) -> bool:
    """Whether the mailing's ledger has an entry (it has started: its settings are fixed)."""
    entry = select(ledger.c.id).where(ledger.c.mailing_id == mailing_id).limit(1)
    return conn.execute(entry).first() is not None


def _dialect_insert(conn: Connection, table: Any) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _reserve_key(conn: Connection, mailing_id: int, key: str, fingerprint: str) -> dict[str, Any] | None:
    """Take the key for this request, or return the answer its first use got.

    A concurrent request with the same key waits on the unique index until the first commits,
    then finds its answer; if the first rolled back, it takes the key itself.
    """
    taken = conn.execute(_dialect_insert(conn, check_requests).values(
        mailing_id=mailing_id, idempotency_key=key, body_hash=fingerprint, created_at=utcnow(),
    ).on_conflict_do_nothing().returning(check_requests.c.id)).first()
    if taken is not None:
        return None
    earlier = conn.execute(select(check_requests.c.body_hash, check_requests.c.response).where(
        check_requests.c.mailing_id == mailing_id, check_requests.c.idempotency_key == key)).one()
    if earlier.body_hash != fingerprint:
        raise Conflict(said("this Idempotency-Key was already used for this mailing with a different body"),
                       code="idempotency_conflict")
    answer: dict[str, Any] | None = earlier.response
    return answer


def _check(conn: Connection, audience: Audience, mailing_id: int,
           contact_ids: Sequence[int] | None, addresses: Sequence[str] | None) -> dict[str, Any]:
    if addresses is not None:
        requested = _representatives_at(conn, audience, addresses)
    else:
        requested = list(contact_ids or [])
    verdicts = _verdicts(conn, audience, mailing_id, {i for i in requested if i is not None})
    results, seen = [], set()
    for position, contact_id in enumerate(requested):
        if contact_id is None:
            verdict = skip(None, SkipReason.UNKNOWN_CONTACT)
        elif contact_id in seen and verdicts[contact_id].verdict == Verdict.SEND:
            verdict = skip(contact_id, SkipReason.ALREADY_CLAIMED)  # named twice: the first got the claim
        else:
            verdict = verdicts[contact_id]
        seen.add(contact_id)
        results.append(verdict.to_json(addresses[position] if addresses is not None else None))
    return {"results": results}


def _verdicts(conn: Connection, audience: Audience, mailing_id: int, ids: set[int]) -> dict[int, Decision]:
    storable = [i for i in ids if 0 < i <= MAX_ID]  # others cannot be contacts
    facts = {row["id"]: row for row in _facts(conn, audience, storable)}
    verdicts = {i: skip(i, SkipReason.UNKNOWN_CONTACT) for i in ids if i not in facts}
    slots = {i: slot_of(audience, row) for i, row in facts.items()}
    holders, holding = _clearances(conn, mailing_id, slots.values(), facts)
    batch_winner = {slots[i]: i for i, row in facts.items() if _eligible(row) and row["rank"] == 1}
    claims = []
    for i, row in facts.items():
        verdict = decide(i, row, slots[i], holders, holding, batch_winner)
        verdicts[i] = verdict
        if verdict.verdict == Verdict.SEND:
            verdict.address = row["email"]
            claims.append(i)
    for i, status in _opted_out_since(conn, claims).items():  # an event came in since we read
        verdicts[i] = skip(i, SkipReason.BOUNCED if status == ContactStatus.BOUNCED
                           else SkipReason.UNSUBSCRIBED)
    claims = [i for i in claims if verdicts[i].verdict == Verdict.SEND]
    won = _claim(conn, mailing_id, [(i, facts[i]["address_key"], slots[i], facts[i]["email"])
                                    for i in claims])
    lost = {i for i in claims if i not in won}
    if lost:  # another worker claimed these slots since we read the ledger: answer from it now
        holders, _ = _clearances(conn, mailing_id, {slots[i] for i in lost})
        for i, verdict in verdicts.items():
            if i not in lost and verdict.duplicate_of not in lost:
                continue
            holder = holders.get(slots[i])
            if holder is None:  # the loser holds a clearance under an address it has left
                if i in lost:
                    verdicts[i] = skip(i, SkipReason.ALREADY_CLAIMED)
                continue
            verdicts[i] = (skip(i, SkipReason.ALREADY_CLAIMED) if holder == i
                           else skip(i, SkipReason.DUPLICATE_ADDRESS, holder))
    return verdicts


def _facts(conn: Connection, audience: Audience, ids: Iterable[int]) -> Sequence[RowMapping]:
    ids = sorted(ids)
    return conn.execute(batch_query(audience, ids, conn.dialect.name)).mappings().all() if ids else []


def _opted_out_since(conn: Connection, ids: list[int]) -> dict[int, str]:
    """Lock the contacts about to be cleared against status changes until this check commits, and
    return those that are no longer active (an event committed after the facts were read)."""
    if not ids or conn.dialect.name != "postgresql":
        return {}  # SQLite: this transaction holds the write lock, nobody changed them meanwhile
    # In id order, as events lock them, so that the two do not deadlock. Read committed: a row
    # an event changed is read as it is now, once the event has committed.
    rows = conn.execute(select(contacts.c.id, contacts.c.status).where(
        one_of(contacts.c.id, sorted(ids), conn.dialect.name)).order_by(contacts.c.id)
        .with_for_update(read=True)).all()
    return {contact_id: status for contact_id, status in rows if status != ContactStatus.ACTIVE}


def _eligible(row: RowMapping) -> bool:
    return bool(row["in_audience"]) and row["status"] == ContactStatus.ACTIVE and not row["bounced"]


def decide(contact_id: int, row: RowMapping, slot: str, holders: dict[str, int],
            holding: set[int], batch_winner: dict[str, int]) -> Decision:
    """The verdict for one contact; the reasons are tried in the contract's order."""
    if not row["in_audience"]:
        return skip(contact_id, SkipReason.NOT_IN_MAILING)
    if row["status"] == ContactStatus.UNSUBSCRIBED:
        return skip(contact_id, SkipReason.UNSUBSCRIBED)
    if row["status"] == ContactStatus.BOUNCED or row["bounced"]:
        return skip(contact_id, SkipReason.BOUNCED)
    if contact_id in holding:
        return skip(contact_id, SkipReason.ALREADY_CLAIMED)
    holder = holders.get(slot)
    if holder is not None and holder != contact_id:
        return skip(contact_id, SkipReason.DUPLICATE_ADDRESS, holder)
    winner = batch_winner[slot]
    if winner != contact_id:  # the representative rule picked another contact of this batch
        return skip(contact_id, SkipReason.DUPLICATE_ADDRESS, winner)
    return Decision(contact_id, Verdict.SEND)


def slot_of(audience: Audience, row: RowMapping) -> str:
    """What one clearance of the mailing occupies: the address (and personalisation), or the
    contact itself when each contact may get its own copy."""
    if audience.allow_shared_address and not audience.personalized_by:
        return f"contact:{row['id']}"
    if not audience.personalized_by:
        return str(row["address_key"])
    values = [row[f"p{i}"] for i in range(len(audience.personalized_by))]
    digest = hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()[:20]
    return f"{row['address_key']}#{digest}"


def _clearances(conn: Connection, mailing_id: int, slots: Iterable[str], ids: Iterable[int] = ()
                ) -> tuple[dict[str, int], set[int]]:
    """The active clearances on these slots or of these contacts: who holds each slot, and
    which of the contacts hold one (even under an address they have since left)."""
    slots, ids = sorted(set(slots)), sorted(set(ids))
    if not slots and not ids:
        return {}, set()
    if conn.dialect.name == "postgresql":
        # Each check plans the lookup with its lists as constants (segments.values.constant_one_of),
        # also once the driver has prepared the statement (its fifth run on a connection).
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    rows = conn.execute(clearances_query(mailing_id, slots, ids, conn.dialect.name)).all()
    return {slot: contact_id for slot, contact_id in rows}, {contact_id for _, contact_id in rows}


def clearances_query(mailing_id: int, slots: Sequence[str], ids: Sequence[int], dialect: str
                     ) -> Select | CompoundSelect:
    """The mailing's active clearances on these slots and of these contacts, as (slot, contact).

    Whatever the planner knows of the mailing, never a walk of its clearances for each value of
    the batch. SQLite: a query per list, each probing its unique index (mailing and slot,
    mailing and contact) value by value; the two lists ORed in one query walked all the
    mailing's clearances at every check. PostgreSQL: the lists ORed as constants. Where its
    statistics know the mailing, it probes both indexes (a BitmapOr) or, for a small ledger,
    scans it; where they do not (never analysed, or before the mailing's claims), it takes the
    mailing for empty and walks its clearances once, looking each up in a hash of the lists, as
    the IN subqueries did in every state. Lists it cannot see into were planned, in those states,
    as a walk of the mailing for every value (a join: 37 s for 10,000 against 35,000
    clearances) or a linear search of the list per clearance (`= ANY` of an array subquery):
    benchmarks/README.md, "The check's ledger lookup"; tests/integration/test_check_plan.py. The
    states are the indexes' own literals: bound, neither SQLite nor a generic plan can tell that
    they imply the indexes' condition.
    """
    held = select(ledger.c.slot, ledger.c.contact_id).where(
        ledger.c.mailing_id == mailing_id, text(ACTIVE_CLEARANCE.text))
    if dialect == "postgresql":
        return held.where(or_(constant_one_of(ledger.c.slot, slots, dialect),
                              constant_one_of(ledger.c.contact_id, ids, dialect)))
    return union_all(held.where(one_of(ledger.c.slot, slots, dialect)),
                     held.where(one_of(ledger.c.contact_id, ids, dialect)))


def _claim(conn: Connection, mailing_id: int, claims: list[tuple[int, str, str, str]]) -> set[int]:
    """Insert the claims; return the contacts whose claim went in (the others lost a race).

    One statement whatever the batch size: the claims travel as one JSON document, not as a
    parameter per value. They go in slot order, so two workers
    claiming overlapping batches take the index's entries in the same order and do not deadlock.

    On PostgreSQL the claims go in with a plain INSERT first: nearly always nobody took these
    slots since the ledger was read, and ON CONFLICT costs a speculative insertion per row (the
    statement took twice as long at 1,000 claims). When another worker did take one, the insert
    fails on a unique index and is undone to its savepoint; ON CONFLICT DO NOTHING then tells the
    claims won from those lost. (SQLite: this transaction holds the write lock, ON CONFLICT costs
    nothing more there.)
    """
    if not claims:
        return set()
    params = {"mailing": mailing_id, "now": utcnow(), "claims": json.dumps(claims)}
    if conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                conn.execute(_claims_insert(conn.dialect.name, on_conflict=False), params)
            return {contact_id for contact_id, *_ in claims}
        except IntegrityError:
            pass  # a race lost: the savepoint undid the insert, the transaction goes on
    return set(conn.execute(_claims_insert(conn.dialect.name, on_conflict=True), params).scalars())


def _claims_insert(dialect: str, *, on_conflict: bool) -> TextClause:
    """INSERT ... SELECT of the claims document; with `on_conflict`, skipping and returning."""
    if dialect == "postgresql":
        source = ("(SELECT CAST(e->>0 AS integer) AS contact_id, e->>1 AS address_key, e->>2 AS slot, "
                  "e->>3 AS address FROM json_array_elements(CAST(:claims AS json)) AS e) AS c")
    else:
        source = ("(SELECT json_extract(value, '$[0]') AS contact_id, json_extract(value, '$[1]') "
                  "AS address_key, json_extract(value, '$[2]') AS slot, json_extract(value, '$[3]') "
                  "AS address FROM json_each(:claims)) AS c")
    statement = (
        "INSERT INTO send_ledger (mailing_id, contact_id, address_key, address, slot, state, claimed_at) "
        f"SELECT :mailing, c.contact_id, c.address_key, c.address, c.slot, 'claimed', :now FROM {source} "
        # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT, to tell it from a join's ON.
        "WHERE true ORDER BY c.slot"
        + (" ON CONFLICT DO NOTHING RETURNING contact_id" if on_conflict else ""))
    return text(statement).bindparams(bindparam("now", type_=DateTime(timezone=True)))


def _representatives_at(conn: Connection, audience: Audience, addresses: Sequence[str]) -> list[int | None]:
    """For each address, the contact a check by address is about: the one the mailing would
    send to (its representative), else the contact closest to it; None where nobody lives."""
    keys = [lookup_key(address) for address in addresses]
    ids = conn.execute(select(contacts.c.id).where(
        contacts.c.account_id == audience.account_id,
        one_of(contacts.c.address_key, sorted(set(keys)), conn.dialect.name))).scalars().all()
    best: dict[str, RowMapping] = {}
    for row in _facts(conn, audience, ids):
        order = (not _eligible(row), not row["in_audience"], row["rank"], row["id"])
        current = best.get(row["address_key"])
        if current is None or order < (not _eligible(current), not current["in_audience"],
                                       current["rank"], current["id"]):
            best[row["address_key"]] = row
    return [best[key]["id"] if key in best else None for key in keys]


def set_state(engine: Engine, mailing_id: int, contact_ids: Sequence[int], *,
              to: LedgerState) -> int:
    """Move the contacts' claims (state `claimed`) to `released` or `sent`; return how many."""
    stamp = "released_at" if to == LedgerState.RELEASED else "sent_at"
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        result = conn.execute(update(ledger).values(state=to, **{stamp: utcnow()}).where(
            ledger.c.mailing_id == mailing_id, ledger.c.state == LedgerState.CLAIMED,
            one_of(ledger.c.contact_id, sorted({i for i in contact_ids if 0 < i <= MAX_ID}),
                   conn.dialect.name)))
        return result.rowcount
