"""`safeguard accounts|keys|links|fields ...`: tenants, their API keys, linked systems and fields."""

from __future__ import annotations

from datetime import datetime

import click

from importer.vocabulary import DedupMode, FieldType
from service.cli.context import Context, account_named, choice_of, pass_context
from service.domain.accounts import create_account, create_field, create_link
from service.domain.api_keys import create_key, list_keys, revoke_key
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
@click.option("--name", default=None, help='What the key is for, e.g. "mailing system".')
@pass_context
def keys_create(ctx: Context, account: str, scope: str, name: str | None) -> None:
    """Create an API key; it is printed once, alone on standard output."""
    if name is not None and not 1 <= len(name) <= 100:
        raise click.BadParameter("a name has 1 to 100 characters", param_hint="--name")
    with ctx.session() as session:
        click.echo(create_key(session, account=account_named(session, account), scope=scope, name=name))


@keys_group.command("list")
@click.argument("account")
@pass_context
def keys_list(ctx: Context, account: str) -> None:
    """List the account's keys (never the keys themselves), revoked ones too."""
    with ctx.session() as session:
        keys = list_keys(session, account_named(session, account).id)
    click.echo("\t".join(("id", "scope", "prefix", "name", "created_at", "last_used_at", "revoked_at")))
    for key in keys:
        click.echo("\t".join((str(key.id), key.scope, key.prefix, key.name or "-", _moment(key.created_at),
                              _moment(key.last_used_at), _moment(key.revoked_at))))


@keys_group.command("revoke")
@click.argument("account")
@click.argument("key_id", metavar="ID", type=int)
@pass_context
def keys_revoke(ctx: Context, account: str, key_id: int) -> None:
    """Revoke a key of the account: every instance refuses it from its next use."""
    with ctx.session() as session:
        key = revoke_key(session, account_named(session, account).id, key_id)
    click.echo(f"key {key.id} ({key.prefix}...) revoked")


def _moment(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


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
