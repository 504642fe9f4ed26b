"""All of an account's contacts as CSV rows, streamed: one query, read through a server-side cursor.

Each link's own ID comes from a join of its own (the unique index on (contact, link) makes it
one row at most), so a contact is one row of the result and the export holds one batch of rows
in memory whatever the account's size.
(SQLite writes its timestamps as text itself: parsing two million of them cost as much as the
query.) The cells are the stored values: the CSV writer (service/downloads.csv_lines) escapes
those a spreadsheet could read as a formula, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from json import JSONDecoder
from typing import Any

from sqlalchemy import Engine, String, and_, false, func, select, type_coerce
from sqlmodel import Session

from service.db import is_sqlite
from service.domain.accounts import fields_of, links_of
from service.domain.contacts import as_utc
from service.models import Contact, ExternalId

contacts = Contact.__table__  # type: ignore[attr-defined]
external_ids = ExternalId.__table__  # type: ignore[attr-defined]
BATCH = 5000
BUILTIN_COLUMNS = ["id", "email", "status", "created_at", "updated_at"]


def export_rows(engine: Engine, account_id: int) -> Iterator[list[str]]:
    """Every contact of the account as CSV cells, the header first, in id order.

    It reads on a connection of its own, so that it can be streamed after a request has ended.
    """
    with Session(engine) as session:
        fields = [(f.name, f.type) for f in fields_of(session, account_id)]
        links = [(link.name, link.id) for link in links_of(session, account_id)]
    yield [*BUILTIN_COLUMNS, *(name for name, _ in fields), *(name for name, _ in links)]
    sqlite = is_sqlite(engine)
    query = _export_query(account_id, [link_id for _, link_id in links], sqlite=sqlite)
    stamp = str if sqlite else _stamp  # SQLite writes them itself
    # SQLite hands the document over as its text; json's C decoder reads it faster than SQLite's
    # json_extract would, once per field.
    document = JSONDecoder().decode if sqlite else dict
    names = [name for name, _ in fields]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        for contact_id, email, status, created_at, updated_at, attributes, *ids in result:
            yield [str(contact_id), email, status, stamp(created_at), stamp(updated_at),
                   *map(_cell, map(document(attributes).get, names)), *map(_cell, ids)]


def _export_query(account_id: int, link_ids: list[int], *, sqlite: bool) -> Any:
    """The contacts with one column per link holding the contact's own ID for it, in id order.

    SQLite: the account's rows are found by reading the table in id order, instead of through the
    account's address index, which would read the table in address order and then sort a million
    rows before the first is sent (ten times slower, and memory that grows with the account); the
    timestamps and the document come as stored, not parsed. A PostgreSQL server-side cursor plans
    for the first rows, which is the primary key's order already.
    """
    joined = contacts
    id_columns = []
    for i, link_id in enumerate(link_ids):
        own = external_ids.alias(f"e{i}")
        joined = joined.outerjoin(own, and_(own.c.contact_id == contacts.c.id, own.c.link_id == link_id,
                                            own.c.merged == false()))
        id_columns.append(own.c.value)
    stored = [contacts.c.created_at, contacts.c.updated_at, contacts.c.attributes]
    if sqlite:
        stored = [_sqlite_stamp(contacts.c.created_at), _sqlite_stamp(contacts.c.updated_at),
                  type_coerce(contacts.c.attributes, String)]
    # "+ 0": SQLite cannot use an index for an expression, so it reads the table in id order.
    account = contacts.c.account_id + 0 if sqlite else contacts.c.account_id
    return (select(contacts.c.id, contacts.c.email, contacts.c.status, *stored, *id_columns)
            .select_from(joined).where(account == account_id).order_by(contacts.c.id))


def _stamp(moment: datetime) -> str:
    return as_utc(moment).isoformat()


def _sqlite_stamp(column: Any) -> Any:
    """A timestamp as SQLite stores it ("2026-12-01 10:00:00.123456", UTC) written as the API
    writes it (datetime.isoformat, which leaves out a fraction of zero), by SQLite."""
    text = func.replace(func.replace(type_coerce(column, String), ".000000", ""), " ", "T")
    return type_coerce(text + "+00:00", String)


def _cell(value: Any) -> str:
    """A stored value as a cell: text as it is, a yes/no as true/false, a number as written, none empty.

    By the value's own type, which the import gave it from its field's (a date is text that
    starts with a digit), so that each cell costs one call.
    """
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)
