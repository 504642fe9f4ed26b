"""A page of everyone (GET /api/v1/contacts without a filter) reads the (account_id, id) index:
without it, SQLite sorted the whole account for each page, and PostgreSQL walked the primary key
through the other accounts' contacts (the last page of an early account: every later contact).
The plan is read with EXPLAIN for the very statement find_contacts sends, on both databases."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlmodel import Session

from service.domain.contacts import find_contacts

FIRST, LATER = 3_000, 30_000  # contacts of the early account, and of the account made after it


def _add_contacts(conn, account_id: int, count: int) -> None:  # type: ignore[no-untyped-def]
    series = ("SELECT g FROM generate_series(1, :n) g" if conn.dialect.name == "postgresql" else
              "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) SELECT g FROM s")
    conn.execute(text(
        "INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, attributes, created_at, "
        f"updated_at) SELECT :a, 'email', 'c' || g || '@a' || :a || '.nl', 'c' || g || '@a' || :a || '.nl', "
        f"'active', '{{}}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM ({series}) AS numbers"),
        {"a": account_id, "n": count})


def test_a_page_of_everyone_reads_the_account_and_id_index(engine, make_tenant):
    early, later = make_tenant("early"), make_tenant("later")
    with engine.begin() as conn:
        _add_contacts(conn, early.id, FIRST)
        _add_contacts(conn, later.id, LATER)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
        last_id = conn.execute(text("SELECT max(id) FROM contacts WHERE account_id = :a"),
                               {"a": early.id}).scalar_one()
    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM contacts" in statement and "ORDER BY contacts.id" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with Session(engine) as session:
            page, cursor = find_contacts(session, early.id, after=last_id - 40, limit=100)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert len(page) == 40 and cursor is None
    statement, parameters = sent[0]
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        plan = "\n".join(" ".join(map(str, row)) for row in conn.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters))
    assert "ix_contacts_account_and_id" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
