"""`safeguard accounts|keys|links|fields ...`: tenants, their API keys, linked systems and fields."""

from __future__ import annotations

import click

from importer.vocabulary import DedupMode, FieldType
from service.cli.context import Context, account_named, choice_of, pass_context
from service.domain.accounts import create_account, create_field, create_link
from service.domain.api_keys import create_key
from service.models import Scope


@click.group("accounts")
def accounts_group() -> None:
    """Accounts (tenants)."""


@accounts_group.command("create")
@click.argument("name")
@click.option("--dedup", type=choice_of(DedupMode), default="email",
              show_default=True, help="How imports deduplicate contacts.")
@pass_context
def accounts_create(ctx: Context, name: str, dedup: str) -> None:
    """Create an account."""
    with ctx.session() as session:
        account = create_account(session, name=name, dedup_mode=dedup)
        click.echo(f"account {account.name} (id {account.id}, dedup by {account.dedup_mode})")


@click.group("keys")
def keys_group() -> None:
    """API keys."""


@keys_group.command("create")
@click.argument("account")
@click.option("--scope", type=choice_of(Scope), required=True)
@pass_context
def keys_create(ctx: Context, account: str, scope: str) -> None:
    """Create an API key; it is printed once, alone on standard output."""
    with ctx.session() as session:
        click.echo(create_key(session, account=account_named(session, account), scope=scope))


@click.group("links")
def links_group() -> None:
    """Linked systems and their ID namespaces."""


@links_group.command("create")
@click.argument("account")
@click.argument("name")
@click.option("--label", required=True, help='What the IDs are called, e.g. "Customer number".')
@click.option("--id-pattern", default=None, help="A regular expression every ID must fully match.")
@pass_context
def links_create(ctx: Context, account: str, name: str, label: str, id_pattern: str | None) -> None:
    """Add a linked system to an account."""
    with ctx.session() as session:
        link = create_link(session, account=account_named(session, account), name=name, label=label,
                           id_pattern=id_pattern)
        click.echo(f"link {link.name} ({link.label})")


@click.group("fields")
def fields_group() -> None:
    """Typed contact fields."""


@fields_group.command("create")
@click.argument("account")
@click.argument("name")
@click.argument("type", type=choice_of(FieldType))
@pass_context
def fields_create(ctx: Context, account: str, name: str, type: str) -> None:
    """Add a field to an account."""
    with ctx.session() as session:
        create_field(session, account=account_named(session, account), name=name, type=type)
        click.echo(f"field {name} ({type})")
