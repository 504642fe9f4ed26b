"""All of an account's contacts as CSV rows, streamed: one query, read through a server-side cursor.

Each link's own ID comes from a join of its own (the unique index on (contact, link) makes it
one row at most), so a contact is one row of the result and the export holds one batch of rows
in memory whatever the account's size. Cells a spreadsheet could read as a formula (an address,
a text field, an ID) are escaped by the download's one spreadsheet_safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, and_, false, select
from sqlmodel import Session, col

from service.domain.accounts import fields_of, links_of
from service.domain.contacts import as_utc
from service.domain.imports import spreadsheet_safe
from service.models import Contact, ExternalId

contacts = Contact.__table__  # type: ignore[attr-defined]
external_ids = ExternalId.__table__  # type: ignore[attr-defined]
BATCH = 5000
BUILTIN_COLUMNS = ["id", "email", "status", "created_at", "updated_at"]


def export_header(engine: Engine, account_id: int) -> tuple[list[str], list[tuple[str, str]], list[int]]:
    """The header, the account's fields (name, type) and its links' ids, in the columns' order."""
    with Session(engine) as session:
        fields = [(f.name, f.type) for f in fields_of(session, account_id)]
        links = [(link.name, link.id) for link in links_of(session, account_id)]
    return [*BUILTIN_COLUMNS, *(name for name, _ in fields), *(name for name, _ in links)], fields, \
        [link_id for _, link_id in links]


def export_rows(engine: Engine, account_id: int) -> Iterator[list[str]]:
    """Every contact of the account as CSV cells, the header first, in id order.

    It reads on a connection of its own, so that it can be streamed after a request has ended.
    """
    header, fields, link_ids = export_header(engine, account_id)
    yield header
    query = _export_query(account_id, link_ids)
    cell = [_cell_writer(field_type) for _, field_type in fields]
    names = [name for name, _ in fields]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        for row in result:
            attributes = row[5]
            values = [write(attributes.get(name)) for name, write in zip(names, cell, strict=True)]
            yield [str(row[0]), spreadsheet_safe(row[1]), row[2], as_utc(row[3]).isoformat(),
                   as_utc(row[4]).isoformat(), *values,
                   *("" if value is None else spreadsheet_safe(value) for value in row[6:])]


def _export_query(account_id: int, link_ids: list[int]) -> Any:
    """Contacts with one column per link holding the contact's own ID for it."""
    joined = contacts
    id_columns = []
    for i, link_id in enumerate(link_ids):
        own = external_ids.alias(f"e{i}")
        joined = joined.outerjoin(own, and_(own.c.contact_id == contacts.c.id, own.c.link_id == link_id,
                                            own.c.merged == false()))
        id_columns.append(own.c.value)
    return (select(contacts.c.id, contacts.c.email, contacts.c.status, contacts.c.created_at,
                   contacts.c.updated_at, contacts.c.attributes, *id_columns)
            .select_from(joined).where(col(contacts.c.account_id) == account_id)
            .order_by(contacts.c.id))


def _cell_writer(field_type: str) -> Any:
    """How one field's stored value is written: text escaped, a yes/no as true/false."""
    if field_type == "text":
        return lambda value: "" if value is None else spreadsheet_safe(str(value))
    if field_type == "boolean":
        return lambda value: "" if value is None else ("true" if value else "false")
    return lambda value: "" if value is None else str(value)
