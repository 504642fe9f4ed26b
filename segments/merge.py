"""Changing an account to `email` dedup: the contacts at one address merged into one, undoably.

The representative rule picks the survivor of each shared address (as collapse does for a send
list, but for good). The survivor keeps its own values; its empty fields are filled from the
others in the rule's order; the most restrictive status wins, so a merge never puts an address
back on a list. The merged-away contacts are recorded as they were, with the external IDs that
moved to the survivor, and the survivor's values before and after: undo puts back what nobody
has changed since.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, true
from sqlalchemy.engine import Connection, RowMapping

from importer.vocabulary import StatusSource
from segments.compiler import RuleCompiler
from segments.representative import RepresentativeRule, ranking
from segments.tables import contacts, dedup_merges, dedup_survivors, external_ids, status_history
from segments.values import one_of

# A merge never puts an address back on a list: the most restrictive status wins.
STATUS_SEVERITY = {"active": 0, "unsubscribed": 1, "bounced": 2}
SNAPSHOT_COLUMNS = ("email", "address_key", "status", "attributes", "created_at", "updated_at")
EXAMPLES = 5


def _empty(value: Any) -> bool:
    return value is None or value == ""


def stamp(moment: datetime) -> str:
    """A stored time as text (UTC), the same whichever database handed it back."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


def unstamp(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def shared_addresses(conn: Connection, account_id: int, rule: RepresentativeRule,
                     compiler: RuleCompiler) -> Iterator[list[RowMapping]]:
    """The contacts of each address that several contacts share, best first by the rule."""
    c, s = contacts.alias("c"), contacts.alias("s")
    shared = (select(s.c.address_key).where(s.c.account_id == account_id)
              .group_by(s.c.address_key).having(func.count() > 1))
    keys = ranking(rule, compiler, c)
    rank = func.row_number().over(partition_by=c.c.address_key,
                                  order_by=[k.desc() if d else k.asc() for k, d in keys])
    query = (select(c.c.id, *(c.c[name] for name in SNAPSHOT_COLUMNS), rank.label("rank"))
             .where(c.c.account_id == account_id, c.c.address_key.in_(shared))
             .order_by(c.c.address_key, rank))
    rows = conn.execute(query.execution_options(yield_per=5000)).mappings()
    for _, group in itertools.groupby(rows, key=lambda row: row["address_key"]):
        yield list(group)


def merged_values(group: list[RowMapping]) -> tuple[dict[str, Any], str]:
    """The survivor's fields and status after the merge of its address's contacts."""
    attributes = {k: v for k, v in group[0]["attributes"].items() if not _empty(v)}
    for other in group[1:]:
        for name, value in other["attributes"].items():
            if name not in attributes and not _empty(value):
                attributes[name] = value
    status = max((row["status"] for row in group), key=lambda s: STATUS_SEVERITY.get(s, 0))
    return attributes, status


def conflicting_fields(group: list[RowMapping]) -> set[str]:
    """Fields (and `status`) for which the address's contacts hold different non-empty values."""
    values: dict[str, set[str]] = {}
    for row in group:
        for name, value in row["attributes"].items():
            if not _empty(value):
                values.setdefault(name, set()).add(repr(value))
    conflicts = {name for name, seen in values.items() if len(seen) > 1}
    if len({row["status"] for row in group}) > 1:
        conflicts.add("status")
    return conflicts


@dataclass
class MergeImpact:
    shared_addresses: int = 0
    contacts_before: int = 0
    merged_away: int = 0
    conflicts: dict[str, int] | None = None
    examples: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        conflicts = self.conflicts or {}
        return {
            "shared_addresses": self.shared_addresses,
            "contacts_before": self.contacts_before,
            "contacts_after": self.contacts_before - self.merged_away,
            "merged_away": self.merged_away,
            "conflicts": [{"field": name, "addresses": count, "resolution": _resolution(name)}
                          for name, count in sorted(conflicts.items(), key=lambda kv: (-kv[1], kv[0]))],
            "examples": self.examples or [],
        }


def _resolution(field: str) -> str:
    if field == "status":
        return "the most restrictive status wins: bounced over unsubscribed over active"
    return "the surviving contact's value wins; where it has none, the next contact's value fills it"


def preview_merge(conn: Connection, account_id: int, rule: RepresentativeRule,
                  compiler: RuleCompiler) -> MergeImpact:
    """What changing the account to `email` dedup would do, without changing anything."""
    impact = MergeImpact(conflicts={}, examples=[])
    impact.contacts_before = conn.execute(select(func.count()).select_from(contacts).where(
        contacts.c.account_id == account_id)).scalar_one()
    assert impact.conflicts is not None and impact.examples is not None
    for group in shared_addresses(conn, account_id, rule, compiler):
        impact.shared_addresses += 1
        impact.merged_away += len(group) - 1
        conflicts = conflicting_fields(group)
        for name in conflicts:
            impact.conflicts[name] = impact.conflicts.get(name, 0) + 1
        # Examples show conflicts where there are any: that is what support staff must judge.
        if len(impact.examples) < EXAMPLES and (conflicts or impact.shared_addresses > 50):
            impact.examples.append(_example(group, conflicts))
    return impact


def _example(group: list[RowMapping], conflicts: set[str]) -> dict[str, Any]:
    attributes, status = merged_values(group)
    return {
        "address_key": group[0]["address_key"],
        "survivor": group[0]["id"],
        "contacts": [{"id": row["id"], "email": row["email"], "status": row["status"],
                      "fields": row["attributes"]} for row in group],
        "conflicts": sorted(conflicts),
        "after": {"status": status, "fields": attributes},
    }


def merge_by_address(conn: Connection, account_id: int, change_id: int, rule: RepresentativeRule,
                     compiler: RuleCompiler, now: datetime) -> int:
    """Merge the contacts of every shared address into its representative; return how many
    contacts were merged away. Everything is recorded under `change_id` for undo."""
    merges: list[dict[str, Any]] = []
    survivors: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for group in shared_addresses(conn, account_id, rule, compiler):
        survivor = group[0]
        attributes, status = merged_values(group)
        changed = attributes != survivor["attributes"] or status != survivor["status"]
        survivors.append({
            "change_id": change_id, "contact_id": survivor["id"],
            "before": {"attributes": survivor["attributes"], "status": survivor["status"],
                       "updated_at": stamp(survivor["updated_at"])},
            "after": {"attributes": attributes, "status": status,
                      "updated_at": stamp(now if changed else survivor["updated_at"])},
        })
        if changed:
            updates.append({"sid": survivor["id"], "new_attributes": attributes, "new_status": status,
                            "old_status": survivor["status"]})
        for other in group[1:]:
            merges.append({"change_id": change_id, "contact_id": other["id"], "survivor_id": survivor["id"],
                           "contact": _snapshot(other), "external_id_ids": []})
    if not merges:
        return 0
    _note_external_ids(conn, merges)
    conn.execute(dedup_merges.insert(), merges)
    conn.execute(dedup_survivors.insert(), survivors)
    if updates:
        conn.execute(contacts.update().where(contacts.c.id == bindparam("sid")).values(
            attributes=bindparam("new_attributes"), status=bindparam("new_status"), updated_at=now), updates)
        _record_status_changes(conn, account_id, updates, StatusSource.MERGE, change_id, now)
    merged = select(dedup_merges.c.contact_id).where(dedup_merges.c.change_id == change_id)
    # The merged-away contacts' IDs lead to the survivor from now on (imports find it by them).
    survivor_of = (select(dedup_merges.c.survivor_id)
                   .where(dedup_merges.c.change_id == change_id,
                          dedup_merges.c.contact_id == external_ids.c.contact_id)
                   .scalar_subquery())
    conn.execute(external_ids.update().where(external_ids.c.contact_id.in_(merged))
                 .values(contact_id=survivor_of, merged=true()))
    conn.execute(contacts.delete().where(contacts.c.id.in_(merged)))
    return len(merges)


def _record_status_changes(conn: Connection, account_id: int, updates: list[dict[str, Any]],
                           source: StatusSource, change_id: int, now: datetime) -> None:
    """Record in the status history the survivors' statuses that `updates` change.

    A merged-away contact's own history stays: it is not deleted with the contact, so that an
    undo brings the contact back with it.
    """
    changes = [{"account_id": account_id, "contact_id": u["sid"], "at": now, "status_from": u["old_status"],
                "status_to": u["new_status"], "source": str(source), "source_id": change_id}
               for u in updates if u["old_status"] != u["new_status"]]
    if changes:
        conn.execute(status_history.insert(), changes)


def _snapshot(row: RowMapping) -> dict[str, Any]:
    snapshot = {name: row[name] for name in SNAPSHOT_COLUMNS}
    snapshot["created_at"], snapshot["updated_at"] = stamp(row["created_at"]), stamp(row["updated_at"])
    return snapshot


def _note_external_ids(conn: Connection, merges: list[dict[str, Any]]) -> None:
    """Record on each merge which external ID rows move with it (they move back on undo)."""
    by_contact = {merge["contact_id"]: merge for merge in merges}
    rows = conn.execute(select(external_ids.c.id, external_ids.c.contact_id).where(
        one_of(external_ids.c.contact_id, sorted(by_contact), conn.dialect.name)).order_by(external_ids.c.id))
    for external_id, contact_id in rows:
        by_contact[contact_id]["external_id_ids"].append(external_id)


def undo_merge(conn: Connection, account_id: int, change_id: int, mode: str, now: datetime) -> int:
    """Bring back the contacts a change merged away (with their ids and external IDs), and the
    survivors' values that nobody changed since; return how many contacts came back."""
    merges = conn.execute(select(dedup_merges).where(dedup_merges.c.change_id == change_id)).mappings().all()
    if merges:
        conn.execute(contacts.insert(), [_restored(merge, account_id, mode) for merge in merges])
        moved = [{"eid": eid, "cid": m["contact_id"], "sid": m["survivor_id"]}
                 for m in merges for eid in m["external_id_ids"]]
        if moved:
            conn.execute(external_ids.update().where(
                external_ids.c.id == bindparam("eid"), external_ids.c.contact_id == bindparam("sid"),
            ).values(contact_id=bindparam("cid"), merged=False), moved)
    _restore_survivors(conn, account_id, change_id, now)
    return len(merges)


def _restored(merge: RowMapping, account_id: int, mode: str) -> dict[str, Any]:
    contact = dict(merge["contact"])
    contact["created_at"], contact["updated_at"] = (unstamp(contact["created_at"]),
                                                    unstamp(contact["updated_at"]))
    return {"id": merge["contact_id"], "account_id": account_id, "dedup_mode": mode, **contact}


def _restore_survivors(conn: Connection, account_id: int, change_id: int, now: datetime) -> None:
    rows = conn.execute(
        select(dedup_survivors.c.contact_id, dedup_survivors.c.before, dedup_survivors.c.after,
               contacts.c.attributes, contacts.c.status, contacts.c.updated_at)
        .join(contacts, contacts.c.id == dedup_survivors.c.contact_id)
        .where(dedup_survivors.c.change_id == change_id)).mappings().all()
    updates = []
    for row in rows:
        before, after = row["before"], row["after"]
        attributes = restore_unchanged(row["attributes"], before["attributes"], after["attributes"])
        status = before["status"] if row["status"] == after["status"] else row["status"]
        touched_since = stamp(row["updated_at"]) != after["updated_at"]
        if attributes == row["attributes"] and status == row["status"] and touched_since:
            continue
        updated_at = row["updated_at"] if touched_since else unstamp(before["updated_at"])
        updates.append({"sid": row["contact_id"], "new_attributes": attributes, "new_status": status,
                        "new_updated_at": updated_at, "old_status": row["status"]})
    if updates:
        conn.execute(contacts.update().where(contacts.c.id == bindparam("sid")).values(
            attributes=bindparam("new_attributes"), status=bindparam("new_status"),
            updated_at=bindparam("new_updated_at")), updates)
        _record_status_changes(conn, account_id, updates, StatusSource.UNDO, change_id, now)


def restore_unchanged(current: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
                      ) -> dict[str, Any]:
    """A survivor's fields with the merge taken back where the field still has its merged value."""
    restored = dict(current)
    for name in set(before) | set(after):
        if current.get(name) == after.get(name):
            if name in before:
                restored[name] = before[name]
            else:
                restored.pop(name, None)
    return restored
