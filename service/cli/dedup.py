"""`safeguard dedup ...`: preview, apply and undo a change of an account's dedup rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from importer.vocabulary import DedupMode
from service.cli.context import Context, account_named, choice_of, pass_context
from service.domain import dedup_change

Command = TypeVar("Command", bound=Callable[..., Any])


@click.group("dedup")
def dedup_group() -> None:
    """Change an account's dedup rule, after seeing what it would do."""


def _echo(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


def _target_options(command: Command) -> Command:
    command = click.option("--representative", default=None,
                           help="To email: which contact of an address survives "
                                "(most_recently_updated, oldest, or the rule as JSON).")(command)
    command = click.option("--link", default=None, help="To external_id: the link whose IDs count.")(command)
    command = click.option("--to", "to", type=choice_of(DedupMode), required=True)(command)
    return click.argument("account")(command)


@dedup_group.command("preview")
@_target_options
@pass_context
def dedup_preview(ctx: Context, account: str, to: str, link: str | None, representative: str | None) -> None:
    """Print what the change would do (nothing is changed)."""
    with ctx.session() as session:
        _echo(dedup_change.preview(session, account_named(session, account), to=to, link=link,
                                   representative=representative))


@dedup_group.command("apply")
@_target_options
@click.option("--yes", is_flag=True, help="Apply without showing the preview and asking.")
@pass_context
def dedup_apply(ctx: Context, account: str, to: str, link: str | None, representative: str | None,
                yes: bool) -> None:
    """Change the dedup rule; to email, contacts that share an address are merged (undoable)."""
    with ctx.session() as session:
        found = account_named(session, account)
        if not yes:
            impact = dedup_change.preview(session, found, to=to, link=link, representative=representative)
            click.echo(json.dumps(impact, indent=2, default=str), err=True)
            click.confirm(f"Change account '{account}' to {to} dedup?", abort=True, err=True)
        _echo(dedup_change.apply(ctx.engine, session, found, to=to, link=link,
                                 representative=representative))


@dedup_group.command("undo")
@click.argument("account")
@click.argument("change_id", type=int)
@pass_context
def dedup_undo(ctx: Context, account: str, change_id: int) -> None:
    """Undo a change: the previous rule, and every contact it merged away."""
    with ctx.session() as session:
        found = account_named(session, account)
    _echo(dedup_change.undo(ctx.engine, found, change_id))
