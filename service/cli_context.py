"""What every `safeguard` command shares: the app (made on first use) and finding an account."""

from __future__ import annotations

import click
from sqlmodel import Session

from service import accounts, create_app
from service.db import upgrade_if_embedded
from service.models import Account


class Context:
    """The app, made on first use so that `--help` needs no database."""

    def __init__(self) -> None:
        self._app = None

    @property
    def app(self):  # type: ignore[no-untyped-def]
        if self._app is None:
            self._app = create_app()
            upgrade_if_embedded(self._app.config["DATABASE_URL"])
        return self._app

    def session(self) -> Session:
        return Session(self.app.extensions["safeguard.engine"], expire_on_commit=False)


pass_context = click.make_pass_decorator(Context, ensure=True)


def account_named(session: Session, name: str) -> Account:
    """The account of that name, or a clear error for the command line."""
    account = accounts.find_account(session, name)
    if account is None:
        raise click.ClickException(f"no account named '{name}'")
    return account
