"""`safeguard db upgrade`: create or migrate the database schema."""

from __future__ import annotations

import click

from service.cli.context import Context, pass_context
from service.db import upgrade_database


@click.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database (DATABASE_URL) to the newest schema."""
    upgrade_database(ctx.app.config["DATABASE_URL"])
    click.echo("database is up to date", err=True)
