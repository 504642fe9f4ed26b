"""The `safeguard` command line: one module per group of commands, the domain's errors said as
a message and a non-zero exit."""

from __future__ import annotations

from typing import Any

import click

from service.cli.accounts import accounts_group, fields_group, keys_group, links_group
from service.cli.contacts import contacts_group
from service.cli.context import Context
from service.cli.database import db_group
from service.cli.dedup import dedup_group
from service.cli.demo import demo
from service.cli.events import events_group
from service.cli.imports import import_file
from service.cli.segments import segments_group
from service.cli.serve import serve
from service.cli.users import users_group
from service.cli.worker import worker
from service.errors import DomainError

__all__ = ["Context", "main"]


class Commands(click.Group):
    """The top group: a refusal by the domain is a message on standard error and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as error:
            raise click.ClickException(error.message) from None


@click.group(cls=Commands)
def main() -> None:
    """Mailing safeguard: contact imports with deduplication, and a pre-send check."""


for command in (db_group, accounts_group, keys_group, links_group, fields_group, import_file,
                contacts_group, segments_group, dedup_group, events_group, users_group, demo, serve, worker):
    main.add_command(command)
