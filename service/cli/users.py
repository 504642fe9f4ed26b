"""`safeguard users ...`: the people who sign in to the web pages."""

from __future__ import annotations

import click

from service.cli.context import Context, account_named, pass_context
from service.domain import users


@click.group("users")
def users_group() -> None:
    """Users of the web pages (each belongs to one account)."""


@users_group.command("create")
@click.argument("account")
@click.argument("email")
@click.option("--password", default=None,
              help="The password (asked for, hidden and twice, when not given).")
@click.option("--admin", "is_admin", is_flag=True,
              help="Support staff: may also apply and undo changes of the dedup rule.")
@pass_context
def users_create(ctx: Context, account: str, email: str, password: str | None, is_admin: bool) -> None:
    """Create a user who signs in with EMAIL and a password."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.session() as session:
        user = users.create_user(session, account=account_named(session, account), email=email,
                                 password=password, is_admin=is_admin)
        click.echo(f"{'admin ' if user.is_admin else ''}user {user.email} (account {account})")


@users_group.command("set-password")
@click.argument("email")
@click.option("--password", default=None,
              help="The new password (asked for, hidden and twice, when not given).")
@pass_context
def users_set_password(ctx: Context, email: str, password: str | None) -> None:
    """Give the user with EMAIL a new password; their sessions end on every instance."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with ctx.session() as session:
        user = users.set_password(session, email, password)
        click.echo(f"new password for {user.email}; signed out everywhere")


@users_group.command("remove")
@click.argument("email")
@pass_context
def users_remove(ctx: Context, email: str) -> None:
    """Remove the user with EMAIL; their sessions end on every instance."""
    with ctx.session() as session:
        users.remove_user(session, email)
        click.echo(f"removed {users.normalized_email(email)}")
