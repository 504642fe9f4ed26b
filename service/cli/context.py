"""What every `safeguard` command shares: the app (made on first use) and finding an account."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import StrEnum

import click
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session

from service import config, create_app
from service.db import upgrade_if_embedded
from service.domain.accounts import find_account
from service.models import Account


class Context:
    """The app, made on first use so that `--help` needs no database."""

    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = create_app(config.command_line_overrides())
            upgrade_if_embedded(self._app.config["DATABASE_URL"])
        return self._app

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.extensions["safeguard.engine"]
        return engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


pass_context = click.make_pass_decorator(Context, ensure=True)


def account_named(session: Session, name: str) -> Account:
    """The account of that name, or a clear error for the command line."""
    account = find_account(session, name)
    if account is None:
        raise click.ClickException(f"no account named '{name}'")
    return account


def choice_of(words: type[StrEnum]) -> click.Choice:
    """A choice among a vocabulary's values (click would offer the members' names instead)."""
    return click.Choice([word.value for word in words])


class CountedRows:
    """An iterator of CSV rows that counts the rows it gave (an export's summary line)."""

    def __init__(self, rows: Iterator[Sequence[str]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[Sequence[str]]:
        for row in self.rows:
            self.count += 1
            yield row
