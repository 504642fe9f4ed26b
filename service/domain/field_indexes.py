"""Keeping the field indexes (segments/field_indexes.py) in step with the saved segments.

`reconcile` makes the indexes that the saved segments want and removes the ones no segment wants
any more (a segment changed or removed, an account gone, a field's kind changed). Each index costs
every import into its account some time (about 3-4 s per million contacts inserted; see
benchmarks/README.md), so none is kept that no segment reads. The worker runs it in the
background (service/worker.py) after a segment changes and once a minute; `safeguard
field-indexes` runs it at once.

On PostgreSQL an index is built CONCURRENTLY (imports and checks go on meanwhile) and then the
contacts are analysed, so that the planner knows how common each value is; one process per
schema does the work at a time (an advisory lock; the others skip their turn). A build that fails
(a value that is not a number in a number field, say) leaves an invalid index, which is removed.
On SQLite an index is built under the write lock, which imports also take: at most a few seconds
per million contacts; first the field gets its generated column (a change of the schema only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from segments.field_indexes import COLUMN_NAMED, FieldIndex, drop, present, searched_fields
from segments.rules import STORED_RULE_LIMITS, Catalog, RuleError, parse_rules
from service.db import is_sqlite, writing
from service.domain.segments import catalog_of
from service.models import Segment

log = logging.getLogger(__name__)

# SQLite allows 2,000 columns a table; generated field columns are never dropped (see
# segments/field_indexes.py), so their number is kept well below that.
MAX_FIELD_COLUMNS = 500


@dataclass
class Reconciled:
    """What one `reconcile` did: index names built, dropped, and failed (with the reason)."""

    built: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: bool = False  # another process was at it


def wanted(engine: Engine) -> dict[str, FieldIndex]:
    """The indexes that the saved segments of every account want, by name."""
    dialect = engine.dialect.name
    found: dict[str, FieldIndex] = {}
    with Session(engine) as session:
        segments = session.exec(select(Segment.account_id, Segment.rules).order_by(col(Segment.id))).all()
        catalogs: dict[int, Catalog] = {}
        for account_id, rules in segments:
            if account_id not in catalogs:
                catalogs[account_id] = catalog_of(session, account_id)
            catalog = catalogs[account_id]
            try:
                rule = parse_rules(rules, catalog, limits=STORED_RULE_LIMITS)
            except RuleError:  # a field since removed, say: such a segment wants no index
                continue
            for name, kind in searched_fields(rule, catalog.fields, dialect):
                index = FieldIndex.of(account_id, name, kind, dialect)
                found[index.name] = index
    return found


@contextmanager
def changing_indexes(engine: Engine) -> Iterator[Connection]:
    """A connection for building and dropping indexes: on PostgreSQL outside any transaction (as
    CONCURRENTLY must be), on SQLite in one transaction under the write lock."""
    if is_sqlite(engine):
        with writing(engine).begin() as conn:
            yield conn
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn


def reconcile(engine: Engine, *, avoid: frozenset[str] = frozenset()) -> Reconciled:
    """Build the wanted indexes that are missing (but those named in `avoid`: they failed lately)
    and drop the ones no segment wants."""
    want = wanted(engine)
    if is_sqlite(engine):
        return _reconcile_sqlite(engine, want, avoid)
    return _reconcile_postgresql(engine, want, avoid)


def _reconcile_sqlite(engine: Engine, want: dict[str, FieldIndex], avoid: frozenset[str]) -> Reconciled:
    done = Reconciled()
    with engine.connect() as conn:  # a look first: the write lock only when there is work
        if set(present(conn)) == set(want) - avoid:
            return done
    with changing_indexes(engine) as conn:
        have = present(conn)
        for name in sorted(set(have) - set(want)):
            conn.exec_driver_sql(drop(name, "sqlite"))  # its generated column stays (see there)
            done.dropped.append(name)
        columns = field_columns(conn)
        for name, index in sorted(want.items()):
            if name in have or name in avoid:
                continue
            if index.column not in columns and len(columns) >= MAX_FIELD_COLUMNS:
                done.failed[name] = f"the contacts hold {MAX_FIELD_COLUMNS} field columns already"
                log.warning("field index %s (%s) not built: %s", name, index.field, done.failed[name])
                continue
            build(conn, index, columns)
            done.built.append(name)
    return done


def field_columns(conn: Connection) -> set[str]:
    """SQLite: the generated field columns the contacts hold (none elsewhere)."""
    if conn.dialect.name != "sqlite":
        return set()
    names = conn.execute(text("SELECT name FROM pragma_table_xinfo('contacts')")).scalars()
    return {name for name in names if COLUMN_NAMED.fullmatch(name)}


def build(conn: Connection, index: FieldIndex, columns: set[str]) -> None:
    """Make `index` on a `changing_indexes` connection; on SQLite first its generated column,
    unless `columns` (`field_columns`, kept up to date here) holds it already."""
    if conn.dialect.name == "sqlite" and index.column not in columns:
        conn.exec_driver_sql(index.add_column())
        columns.add(index.column)
    conn.exec_driver_sql(index.create(conn.dialect.name))


def _reconcile_postgresql(engine: Engine, want: dict[str, FieldIndex], avoid: frozenset[str]) -> Reconciled:
    done = Reconciled()
    with changing_indexes(engine) as conn:
        lock = "hashtext('safeguard.field_indexes.' || current_schema())"
        if not conn.execute(text(f"SELECT pg_try_advisory_lock({lock})")).scalar():
            done.skipped = True
            return done
        try:
            have = present(conn)
            for name in sorted(name for name, valid in have.items() if name not in want or not valid):
                conn.exec_driver_sql(drop(name, "postgresql"))
                done.dropped.append(name)
            for name, index in sorted(want.items()):
                if have.get(name) or name in avoid:
                    continue
                try:
                    conn.exec_driver_sql(index.create("postgresql"))
                except DBAPIError as error:
                    done.failed[name] = str(error.orig).splitlines()[0]
                    log.warning("field index %s (%s) could not be built: %s", name, index.field,
                                done.failed[name])
                    conn.exec_driver_sql(drop(name, "postgresql"))  # what a failed build leaves
                else:
                    done.built.append(name)
            if done.built:
                conn.exec_driver_sql("ANALYZE contacts")  # the values' statistics, for the planner
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({lock})"))
    return done
