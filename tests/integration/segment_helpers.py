"""Helpers shared by the segment test modules: saving segments, reading send lists, arranging data.

Arranging data (timestamps, statuses, extra external IDs) goes straight to the database: that sets
up the situation a test needs, it does not stand in for the code under test.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text, update

from segments.field_indexes import drop, present
from segments.tables import contacts as contacts_table

_names = itertools.count(1)


def new_segment(client, tenant, rules: Any, name: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """Save a segment (it must be accepted) and return its id."""
    name = name or f"segment {next(_names)}"
    response = client.post("/api/v1/segments", json={"name": name, "rules": rules}, headers=tenant.auth())
    assert response.status_code == 201, (rules, response.json)
    assert response.json["name"] == name
    assert response.json["rules"] == rules
    return response.json["id"]


def query(**params: Any) -> dict[str, str]:
    """Query parameters as the API reads them (JSON for a representative object, lists comma-joined)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict):
            out[key] = json.dumps(value)
        elif isinstance(value, list | tuple):
            out[key] = ",".join(value)
        else:
            out[key] = str(value)
    return out


def recipient_pages(client, tenant, segment_id: int, *, limit: int = 10_000, **params: Any
                    ) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every page of the segment's JSON send list, following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        args = query(limit=limit, cursor=cursor, **params)
        response = client.get(f"/api/v1/segments/{segment_id}/recipients", query_string=args,
                              headers=tenant.auth())
        assert response.status_code == 200, (args, response.json)
        page = response.json
        assert set(page) >= {"recipients", "next_cursor"}, page
        pages.append(page)
        assert len(pages) < 10_000, "next_cursor never ends"
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def recipients(client, tenant, segment_id: int, **params: Any) -> list[dict]:  # type: ignore[no-untyped-def]
    """The whole JSON send list of a segment."""
    return [c for page in recipient_pages(client, tenant, segment_id, **params) for c in page["recipients"]]


def recipients_csv(client, tenant, segment_id: int, **params: Any) -> tuple[list[str], list[list[str]]]:  # type: ignore[no-untyped-def]
    """The CSV send list: (header, rows)."""
    response = client.get(f"/api/v1/segments/{segment_id}/recipients",
                          query_string=query(format="csv", **params), headers=tenant.auth())
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "text/csv"
    records = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return records[0], records[1:]


def preview(client, tenant, segment_id: int, **params: Any) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/segments/{segment_id}/preview", query_string=query(**params),
                          headers=tenant.auth())
    assert response.status_code == 200, (params, response.json)
    return response.json


def link_id(engine, account_id: int, name: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM links WHERE account_id = :a AND name = :n"),
                            {"a": account_id, "n": name}).scalar_one()


def add_external_id(engine, account_id: int, link: str, contact_id: int, value: str, *,  # type: ignore[no-untyped-def]
                    merged: bool = False) -> None:
    """Give a contact an ID for a link (merged: an ID of a contact merged into it)."""
    link_ = link_id(engine, account_id, link)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO external_ids (account_id, link_id, contact_id, value, merged) "
                          "VALUES (:a, :l, :c, :v, :m)"),
                     {"a": account_id, "l": link_, "c": contact_id, "v": value, "m": merged})


def set_contacts(engine, changes: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    """Set columns of contacts: each change is {"id": ..., column: value, ...}; one statement per
    set of columns (timestamps are written the way the service writes them)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(sorted(k for k in change if k != "id"))
        values = {f"new_{k}": change[k] for k in columns}
        by_columns.setdefault(columns, []).append({"cid": change["id"], **values})
    with engine.begin() as conn:
        for columns, rows in by_columns.items():
            statement = (update(contacts_table)
                         .where(contacts_table.c.id == bindparam("cid"))
                         .values({name: bindparam(f"new_{name}") for name in columns}))
            conn.execute(statement, rows)


def as_utc(value: Any) -> datetime:
    """A timestamp read with plain SQL (SQLite gives text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime), value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def drop_field_indexes(engine) -> None:  # type: ignore[no-untyped-def]
    """Remove every field index (segments/field_indexes.py): the PostgreSQL schema is shared by the
    tests, and emptying its tables leaves indexes (with the account ids the next test's take)."""
    from service.domain.field_indexes import changing_indexes

    with changing_indexes(engine) as conn:
        for name in present(conn):
            conn.exec_driver_sql(drop(name, engine.dialect.name))
