"""All of an account's contacts as CSV rows, streamed: one query, read through a server-side cursor.

Each link's own ID comes from a join of its own (the unique index on (contact, link) makes it
one row at most), so a contact is one row of the result and the export holds one batch of rows
in memory whatever the account's size.

A million rows leave about a microsecond per cell, so the database writes every cell it can as
text (the id, the timestamps in the API's form, an empty text for no ID) and the rows are read
as the driver's plain tuples, not SQLAlchemy's rows. PostgreSQL writes the fields' cells too
(`->>` on jsonb, in the server's process, beside this one): a PostgreSQL row is sent as it comes.
SQLite's json_extract would parse the document once per field, slower than json's C scanner
once per row, so there the document comes as its JSON text and its values become cells here.
The cells are the stored values: the CSV writer (service/downloads.csv_lines) escapes those a
spreadsheet could read as a formula, once.

A field's cell: text as it is, a yes/no as true/false, a number as stored (SQLite: as Python
writes it; PostgreSQL: as jsonb writes it, which spells out 1e-05 as 0.00001), none empty.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from json import JSONDecoder
from json.scanner import make_scanner
from typing import Any

from sqlalchemy import Engine, String, and_, cast, false, func, literal, select, type_coerce
from sqlmodel import Session

from service.db import is_sqlite
from service.domain.accounts import fields_of, links_of
from service.models import Contact, ExternalId

contacts = Contact.__table__  # type: ignore[attr-defined]
external_ids = ExternalId.__table__  # type: ignore[attr-defined]
BATCH = 5000
BUILTIN_COLUMNS = ["id", "email", "status", "created_at", "updated_at"]
# A field's value as its cell, for the values that are not text once decoded (see _scan).
SPECIAL_CELLS: dict[Any, str] = {True: "true", False: "false", None: ""}


def _float_text(text: str) -> str:
    """A decimal number as Python writes it (str(float)), as the API shows it."""
    return str(float(text))


# Numbers stay text: a whole number as written (int() and back would give the same text), so
# that no value but a yes/no or a null needs a cell made. The scanner is what JSONDecoder.decode
# calls (json.scanner), without its two Python frames per document (a third of decoding a row); the stored
# documents have no leading white space.
_scan = make_scanner(JSONDecoder(parse_int=str, parse_float=_float_text))  # type: ignore[arg-type]


def export_rows(engine: Engine, account_id: int) -> Iterator[Sequence[str]]:
    """Every contact of the account as CSV cells (text), the header first, in id order.

    It reads on a connection of its own, so that it can be streamed after a request has ended.
    """
    with Session(engine) as session:
        names = [f.name for f in fields_of(session, account_id)]
        links = [(link.name, link.id) for link in links_of(session, account_id)]
    yield [*BUILTIN_COLUMNS, *names, *(name for name, _ in links)]
    sqlite = is_sqlite(engine)
    query = _export_query(account_id, names, [link_id for _, link_id in links], sqlite=sqlite)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))  # whole numbers only
    for batch in _fetched_ahead(engine, sql, sqlite=sqlite):
        yield from _with_field_cells(batch, names) if sqlite else batch


def _fetched_ahead(engine: Engine, sql: str, *, sqlite: bool) -> Iterator[Sequence[Any]]:
    """The query's rows, BATCH at a time, fetched by a thread of their own a batch ahead.

    The drivers let go of the GIL while the database works: PostgreSQL's server makes the next
    batch, or SQLite steps through the table, while this thread writes the last one as CSV
    (fetched in turn, a PostgreSQL export waited on the server for a third of its time).
    """
    ready: queue.Queue[Sequence[Any] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def hand_over(item: Sequence[Any] | BaseException | None) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def fetch() -> None:
        try:
            with engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                # PostgreSQL: a server-side cursor, a batch per round trip; SQLite steps as it is read.
                cursor = raw.cursor() if sqlite else raw.cursor(name="contacts_export")
                try:
                    cursor.execute(sql)
                    while not stop.is_set() and (batch := cursor.fetchmany(BATCH)):
                        hand_over(batch)
                finally:
                    cursor.close()  # the pool's rollback on return ends the cursor's transaction
            hand_over(None)
        except BaseException as error:  # raised where the rows are read
            hand_over(error)

    fetcher = threading.Thread(target=fetch, name="contacts-export", daemon=True)
    fetcher.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # read whole, or closed early (the client went away): the thread ends either way
        stop.set()
        fetcher.join()


def _with_field_cells(batch: Sequence[Sequence[Any]], names: list[str]) -> Iterator[list[str]]:
    """SQLite's rows, their document (the sixth column) replaced by a cell per field."""
    get: Callable[[Any, Any], str] = SPECIAL_CELLS.get  # a str: the cell, or the text itself
    scan = _scan
    for row in batch:
        values = list(map(scan(row[5], 0)[0].get, names))
        yield [*row[:5], *map(get, values, values), *row[6:]]


def _export_query(account_id: int, names: list[str], link_ids: list[int], *, sqlite: bool) -> Any:
    """The contacts (PostgreSQL: a cell per field; SQLite: the fields' document) with one column
    per link holding the contact's own ID for it, in id order.

    SQLite: the account's rows are found by reading the table in id order, instead of through the
    account's address index, which would read the table in address order and then sort a million
    rows before the first is sent (ten times slower, and memory that grows with the account). A
    PostgreSQL server-side cursor plans for the first rows, which is the primary key's order.
    """
    joined = contacts
    id_columns = []
    for i, link_id in enumerate(link_ids):
        own = external_ids.alias(f"e{i}")
        joined = joined.outerjoin(own, and_(own.c.contact_id == contacts.c.id, own.c.link_id == link_id,
                                            own.c.merged == false()))
        id_columns.append(func.coalesce(own.c.value, ""))
    # "+ 0": SQLite cannot use an index for an expression, so it reads the table in id order.
    account = contacts.c.account_id + 0 if sqlite else contacts.c.account_id
    fields: list[Any]
    if sqlite:
        fields = [type_coerce(contacts.c.attributes, String)]  # the document as stored, its JSON text
    else:  # ->> writes a yes/no as true/false, and a JSON null as no value
        value_of = contacts.c.attributes.op("->>", return_type=String)
        fields = [func.coalesce(value_of(literal(name, String)), "") for name in names]
    return (select(cast(contacts.c.id, String), contacts.c.email, contacts.c.status,
                   _stamp(contacts.c.created_at, sqlite=sqlite), _stamp(contacts.c.updated_at, sqlite=sqlite),
                   *fields, *id_columns)
            .select_from(joined).where(account == account_id).order_by(contacts.c.id))


def _stamp(column: Any, *, sqlite: bool) -> Any:
    """A timestamp as the API writes it (UTC, datetime.isoformat, which leaves out a fraction of
    zero), written by the database: SQLite stores "2026-12-01 10:00:00.123456" (UTC)."""
    if sqlite:
        stored = func.replace(type_coerce(column, String), " ", "T")
    else:
        stored = func.to_char(func.timezone("UTC", column), literal('YYYY-MM-DD"T"HH24:MI:SS.US'))
    return type_coerce(func.replace(stored, ".000000", "") + "+00:00", String)
