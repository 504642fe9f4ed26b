"""What an import asks the database: no statement that can only find nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def statements_of(engine) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The SQL text of every statement the engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def contact_updates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("UPDATE CONTACTS SET EMAIL")]


def test_a_first_load_runs_no_update_of_the_contacts(make_tenant, import_rows, engine):
    """A first load updates nothing: the UPDATE is not run at all (on PostgreSQL its join with a
    newly filled contacts table was once seen running for minutes while finding nothing)."""
    tenant = make_tenant(fields={"first_name": "text"})
    rows = [["email", "first_name"], ["sanne@example.nl", "Sanne"], ["piet@example.nl", "Piet"]]
    settings = {"mapping": {"email": "email", "first_name": "first_name"}}
    with statements_of(engine) as statements:
        report = import_rows(tenant, rows, settings)["report"]
    assert report["created"] == 2 and report["updated"] == 0, report
    assert any(s.lstrip().upper().startswith("INSERT INTO CONTACTS") for s in statements), statements
    assert contact_updates(statements) == []


def test_a_re_import_that_changes_contacts_updates_them(make_tenant, import_rows, engine, contacts_of):
    tenant = make_tenant(fields={"first_name": "text"})
    settings = {"mapping": {"email": "email", "first_name": "first_name"}}
    import_rows(tenant, [["email", "first_name"], ["sanne@example.nl", "Sanne"]], settings)
    with statements_of(engine) as statements:
        changed = import_rows(tenant, [["email", "first_name"], ["sanne@example.nl", "Sanna"]], settings)
    report = changed["report"]
    assert report["updated"] == 1, report
    assert len(contact_updates(statements)) == 1
    assert [c["attributes"]["first_name"] for c in contacts_of(tenant.id)] == ["Sanna"]


def _work_tables(conn) -> list[str]:  # type: ignore[no-untyped-def]
    """The temporary tables this connection holds."""
    if conn.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
        return list(conn.exec_driver_sql(sql).scalars())
    return list(conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'").scalars())


def test_an_import_leaves_no_work_tables_on_the_connections_it_gives_back(make_tenant, import_rows, engine):
    """The stage, the plan and the rest go when the import ends (on SQLite with the connection:
    closing it removes its temporary file at once), on every connection the pool holds."""
    tenant = make_tenant()
    for name in ("sanne", "piet"):  # a second import on the same pool
        report = import_rows(tenant, [["email"], [f"{name}@example.nl"]], {"mapping": {"email": "email"}})
        assert report["report"]["created"] == 1, report
    held = [engine.connect() for _ in range(max(engine.pool.checkedin(), 1))]
    try:
        assert [_work_tables(conn) for conn in held] == [[] for _ in held]
    finally:
        for conn in held:
            conn.close()
