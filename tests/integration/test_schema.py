"""The database schema: the constraints that hold without the application, and the migration."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from service import models  # noqa: F401  (the tables, on SQLModel.metadata)
from service.db import alembic_config
from service.models import by_trigger_on_postgresql

INSERT_CONTACT = text(
    "INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, attributes, created_at, "
    "updated_at) VALUES (:account, :mode, :email, :key, 'active', '{}', CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP)")


def _insert(engine, account_id: int, mode: str, email: str) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(INSERT_CONTACT,
                     {"account": account_id, "mode": mode, "email": email, "key": email.lower()})


def _count(engine, account_id: int) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM contacts WHERE account_id = :a"),
                            {"a": account_id}).scalar_one()


def test_an_email_account_refuses_a_second_contact_at_one_address(engine, make_tenant):
    tenant = make_tenant("acme", "email")
    _insert(engine, tenant.id, "email", "Sanne@example.nl")
    with pytest.raises(IntegrityError):
        _insert(engine, tenant.id, "email", "sanne@example.nl")
    assert _count(engine, tenant.id) == 1
    # Another address, or the same address in another account, is fine.
    _insert(engine, tenant.id, "email", "piet@example.nl")
    other = make_tenant("other", "email")
    _insert(engine, other.id, "email", "sanne@example.nl")
    assert (_count(engine, tenant.id), _count(engine, other.id)) == (2, 1)


def test_an_external_id_account_allows_shared_addresses(engine, make_tenant):
    tenant = make_tenant("family", "external_id")
    for _ in range(3):
        _insert(engine, tenant.id, "external_id", "sanne@example.nl")
    assert _count(engine, tenant.id) == 3


def test_a_contact_cannot_claim_another_mode_than_its_account(engine, make_tenant):
    """The contacts' copy of the mode (which the unique index depends on) cannot be forged."""
    tenant = make_tenant("acme", "email")
    _insert(engine, tenant.id, "email", "sanne@example.nl")
    with pytest.raises(IntegrityError):
        _insert(engine, tenant.id, "external_id", "sanne@example.nl")
    assert _count(engine, tenant.id) == 1


def test_switching_to_email_mode_fails_while_addresses_are_shared(engine, make_tenant):
    tenant = make_tenant("family", "external_id")
    _insert(engine, tenant.id, "external_id", "sanne@example.nl")
    _insert(engine, tenant.id, "external_id", "sanne@example.nl")
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET dedup_mode = 'email' WHERE id = :a"), {"a": tenant.id})
    with engine.connect() as conn:
        modes = conn.execute(text("SELECT DISTINCT dedup_mode FROM contacts WHERE account_id = :a"),
                             {"a": tenant.id}).scalars().all()
        account_mode = conn.execute(text("SELECT dedup_mode FROM accounts WHERE id = :a"),
                                    {"a": tenant.id}).scalar_one()
    assert (modes, account_mode) == (["external_id"], "external_id")


def test_the_contacts_mode_follows_the_account(engine, make_tenant):
    tenant = make_tenant("family", "external_id")
    _insert(engine, tenant.id, "external_id", "sanne@example.nl")
    _insert(engine, tenant.id, "external_id", "piet@example.nl")
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET dedup_mode = 'email' WHERE id = :a"), {"a": tenant.id})
    with engine.connect() as conn:
        modes = conn.execute(text("SELECT dedup_mode FROM contacts WHERE account_id = :a"),
                             {"a": tenant.id}).scalars().all()
    assert modes == ["email", "email"]
    with pytest.raises(IntegrityError):
        _insert(engine, tenant.id, "email", "sanne@example.nl")


def test_an_external_id_belongs_to_one_contact_per_link(engine, make_tenant, post_import):
    tenant = make_tenant("family", "external_id", links={"crm": None})
    rows = [["nr", "email"], ["K1", "sanne@example.nl"], ["K2", "piet@example.nl"]]
    post_import(tenant, rows, {"match": {"by": "external_id", "link": "crm", "column": "nr"},
                               "mapping": {"email": "email"}})
    with engine.connect() as conn:
        link, first, second = conn.execute(text(
            "SELECT link_id, min(contact_id), max(contact_id) FROM external_ids WHERE account_id = :a "
            "GROUP BY link_id"), {"a": tenant.id}).one()
    insert = text("INSERT INTO external_ids (account_id, link_id, contact_id, value, merged) "
                  "VALUES (:a, :l, :c, :v, :m)")
    with pytest.raises(IntegrityError), engine.begin() as conn:  # K1 for a second contact
        conn.execute(insert, {"a": tenant.id, "l": link, "c": second, "v": "K1", "m": False})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # a second own ID for one contact
        conn.execute(insert, {"a": tenant.id, "l": link, "c": first, "v": "K3", "m": False})
    with engine.begin() as conn:  # an ID merged into it is fine
        conn.execute(insert, {"a": tenant.id, "l": link, "c": first, "v": "K4", "m": True})


def _as_declared(conn):  # type: ignore[no-untyped-def]
    """A migration context that leaves out the keys PostgreSQL has as triggers (service/models.py)."""
    postgresql = conn.dialect.name == "postgresql"

    def include(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
        return not (postgresql and type_ == "foreign_key_constraint" and by_trigger_on_postgresql(obj))

    return MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                  "include_object": include})


def test_the_migration_creates_exactly_the_models_schema(engine):
    """Alembic finds nothing to change between the migrated database and the models."""
    with engine.connect() as conn:
        differences = compare_metadata(_as_declared(conn), SQLModel.metadata)
    assert differences == []


def test_postgresql_has_the_row_by_row_keys_as_triggers_only(engine):
    """Where a key is a trigger (PostgreSQL), no foreign key is left to check every row again."""
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            pytest.skip("SQLite keeps its foreign keys")
        keys = conn.execute(text(
            "SELECT conrelid::regclass::text || ' -> ' || confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text IN ('contacts', 'external_ids')")
        ).scalars().all()
        triggers = set(conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid::regclass::text IN ('contacts', 'external_ids', 'accounts', 'links')")).scalars())
    assert keys == []
    assert {"contacts_mode_on_insert", "external_ids_link_on_insert", "external_ids_contact_on_insert",
            "contacts_keep_external_ids"} <= triggers


def test_the_database_is_at_the_newest_revision(engine, database_url):
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == heads[0]


def test_partial_unique_indexes_exist_as_declared(engine):
    """compare_metadata does not look at an index's WHERE clause; check that it is there."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            definitions = dict(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'uq_%'")).all())
        else:
            definitions = dict(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname LIKE 'uq_%'")).all())
    where = definitions["uq_contacts_address_in_email_mode"]
    for noise in ("::text", "(", ")"):
        where = where.replace(noise, "")
    assert "WHERE dedup_mode = 'email'" in where
    assert "UNIQUE" in definitions["uq_contacts_address_in_email_mode"].upper()
    assert "merged" in definitions["uq_external_ids_contact_link"].lower()


def test_downgrade_and_upgrade_round_trip(database_url):
    """The migration can be undone and redone (on a fresh, empty copy of the schema)."""
    from alembic import command

    config = alembic_config(database_url)
    command.downgrade(config, "base")
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = set(SQLModel.metadata.tables) & set(
                conn.dialect.get_table_names(conn, schema=None))
        assert names == set()
    finally:
        command.upgrade(config, "head")
        engine.dispose()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(_as_declared(conn), SQLModel.metadata) == []
    finally:
        engine.dispose()
