"""Shared set-up of the benchmarks: a migrated database with the benchmark account."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from benchmarks.generate import CURRENT, Profile
from importer.settings import AccountInfo, ImportSettings, parse_settings
from service.db import make_engine, upgrade_database
from service.domain.accounts import account_info, create_account, create_field, create_link
from service.models import ImportJob


def fresh_account(database_url: str, profile: Profile = CURRENT) -> tuple[Engine, AccountInfo]:
    """Migrate the database and make the external-ID account with its `crm` link and the profile's fields."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        account = create_account(session, name="bench", dedup_mode="external_id")
        create_link(session, account=account, name="crm", label="Customer number")
        for name, type_ in profile.fields.items():
            create_field(session, account=account, name=name, type=type_)
        return engine, account_info(session, account)


def import_settings(profile: Profile = CURRENT) -> ImportSettings:
    return parse_settings({"match": {"by": "external_id", "link": "crm", "column": profile.id_column},
                           "mapping": profile.mapping})


def new_job(engine: Engine, account: AccountInfo) -> int:
    with Session(engine) as session:
        job = ImportJob(account_id=account.id, filename="bench.csv")
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id
