"""Engines and sessions: one engine per app, SQLite tuned for a service, migrations by Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from segments.sqlite import prepare_connection as prepare_for_segments
from segments.sqlite import prepare_dialect
from service.errors import Conflict, NotFound
from service.models import MAX_ID

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a SQLite writer waits for the write lock before it gives up ("database is locked").
SQLITE_BUSY_MS = 30000
SQLITE_CACHE_KIB = 100_000  # a connection's page cache
Row = TypeVar("Row", bound=Any)


def make_engine(database_url: str) -> Engine:
    """Create the engine for `database_url`, with SQLite set up for concurrent use."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        _configure_postgresql(engine)
        return engine
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    prepare_dialect(engine.dialect)
    _configure_sqlite(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    # A process that dies in the middle of an import leaves its statement running on the server,
    # holding the account's lock, until the statement ends (minutes, for a big file). With this
    # setting (PostgreSQL 14+) the server notices the lost client within seconds and rolls back.
    #
    # Imports stage millions of rows in temporary tables, which live in a session's own buffers
    # (8 MB by default); the setting must come before the session's first temporary table.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET temp_buffers = '256MB'")
        info = getattr(dbapi_connection, "info", None)
        if getattr(info, "server_version", 0) >= 140000:
            cursor.execute("SET client_connection_check_interval = '2s'")
        cursor.close()
        dbapi_connection.commit()


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN is the
    # one sent; writers ask for `BEGIN IMMEDIATE` (execution option `sqlite_immediate`) so that
    # they queue on the write lock (busy timeout) instead of failing when they upgrade from read.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        # 100 MB of page cache: enough for the indexes an import of a million rows touches,
        # and a bound on what one process holds (an import stays under 400 MB in all).
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()
        prepare_for_segments(dbapi_connection)

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    """Tell whether this engine or connection talks to SQLite."""
    return engine_or_conn.dialect.name == "sqlite"


def writing(engine: Engine) -> Engine:
    """The engine for a transaction that writes: on SQLite it takes the write lock at BEGIN, so that
    it waits its turn (busy timeout) instead of failing when it upgrades from reading."""
    return engine.execution_options(sqlite_immediate=True) if is_sqlite(engine) else engine


@contextmanager
def passing_through(engine: Engine) -> Iterator[Connection]:
    """A connection for data that only passes through (an upload's chunks): on SQLite with a small
    page cache meanwhile, which would otherwise grow by all it wrote, up to SQLITE_CACHE_KIB."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection if is_sqlite(engine) else None
        if raw is not None:
            raw.execute("PRAGMA cache_size=-2000")
        try:
            yield conn
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def alembic_config(database_url: str) -> Config:
    """Build an Alembic configuration for the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    """Bring the database at `database_url` to the newest schema."""
    command.upgrade(alembic_config(database_url), "head")


def upgrade_if_embedded(database_url: str) -> None:
    """Create or migrate an embedded SQLite database on first use: it needs no set-up.

    PostgreSQL is shared by many instances, so its schema changes only by `safeguard db upgrade`.
    """
    if make_url(database_url).get_backend_name() == "sqlite":
        upgrade_database(database_url)


def init_app(app: Flask) -> None:
    """Give the app its engine, and close each request's session when the request ends."""
    app.extensions["safeguard.engine"] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def close_session(_error: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def current_engine() -> Engine:
    """The engine of the app handling this request."""
    engine: Engine = current_app.extensions["safeguard.engine"]
    return engine


def session() -> Session:
    """This request's database session (one per request, closed at its end)."""
    if "db_session" not in g:
        g.db_session = Session(current_engine(), expire_on_commit=False)
    request_session: Session = g.db_session
    return request_session


def end_reads(session: Session) -> Session:
    """End the session's reads before it writes; returns it.

    On SQLite a transaction that has read cannot take the write lock once another connection has
    written since (a check, say): it is refused at once as busy, without the busy timeout. A new
    transaction whose first statement writes waits its turn instead.
    """
    session.commit()
    return session


def insert_unique(session: Session, row: Row, conflict: str) -> Row:
    """Store a new row; a unique constraint refusing it is a Conflict with the `conflict` message."""
    begin_write(session)  # after the request's reads: SQLite would refuse the write as busy
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(conflict) from None
    return row


def owned(session: Session, model: type[Row], row_id: int, account_id: int) -> Row | None:
    """The account's row of `model` with this id; None for another account's, or for an id
    beyond what the database stores (it must not reach SQL)."""
    if not 0 < row_id <= MAX_ID:
        return None
    row = session.get(model, row_id)
    return row if row is not None and row.account_id == account_id else None


def own(session: Session, model: type[Row], row_id: int, account_id: int, what: str) -> Row:
    """The account's row of `model` with this id; NotFound (named `what`) for anyone else's."""
    row = owned(session, model, row_id, account_id)
    if row is None:
        raise NotFound(what)
    return row


def all_of(session: Session, model: type[Row], account_id: int) -> list[Row]:
    """Every row of `model` of the account, in the order they were made."""
    return list(session.exec(select(model).where(model.account_id == account_id).order_by(model.id)))


def begin_write(session: Session) -> Connection:
    """Start a write transaction on `session` (SQLite: BEGIN IMMEDIATE, queued on the write lock).

    A request's session has usually read already (the key, the account): that read-only
    transaction is ended first, since SQLite cannot upgrade a read to a write once another writer
    has committed, and it is refused rather than queued.
    """
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return session.connection()  # the caller's own writes: already its transaction
        session.commit()
    return session.connection(execution_options={"sqlite_immediate": True})
