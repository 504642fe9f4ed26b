"""`safeguard demo`: the demo account that `make run` starts with, its key and its user."""

from __future__ import annotations

import json
import secrets

import click
from sqlmodel import Session

from importer.vocabulary import DedupMode
from service.cli.context import Context, pass_context
from service.domain.accounts import create_account, create_field, create_link, find_account
from service.domain.api_keys import create_key
from service.domain.users import create_user, find_user
from service.models import Account, Scope

DEMO_ACCOUNT = "demo"
DEMO_USER = "demo@example.com"
DEMO_FIELDS = (("first_name", "text"), ("last_name", "text"), ("city", "text"), ("birth_date", "date"))


@click.command("demo")
@pass_context
def demo(ctx: Context) -> None:
    """Create the demo account (external-ID dedup, a `crm` link) and print a manage key and a
    user's password, once."""
    with ctx.session() as session:
        existing = find_account(session, DEMO_ACCOUNT)
        if existing is not None:
            click.echo("demo account exists already (keys are shown only when made)", err=True)
            _demo_user(session, existing)
            return
        account = create_account(session, name=DEMO_ACCOUNT, dedup_mode=DedupMode.EXTERNAL_ID)
        create_link(session, account=account, name="crm", label="Customer number")
        for name, type_ in DEMO_FIELDS:
            create_field(session, account=account, name=name, type=type_)
        key = create_key(session, account=account, scope=Scope.MANAGE)
        password = secrets.token_urlsafe(12)
        create_user(session, account=account, email=DEMO_USER, password=password)
        click.echo(json.dumps({"account": DEMO_ACCOUNT, "manage_key": key, "user": DEMO_USER,
                               "password": password}))


def _demo_user(session: Session, account: Account) -> None:
    """Add the demo user to a demo account made before there were users; say who signs in."""
    if find_user(session, DEMO_USER) is not None:
        click.echo(f"sign in as {DEMO_USER} with the password printed when it was made, or make "
                   "another user: safeguard users create demo EMAIL", err=True)
        return
    password = secrets.token_urlsafe(12)
    create_user(session, account=account, email=DEMO_USER, password=password)
    click.echo(json.dumps({"account": DEMO_ACCOUNT, "user": DEMO_USER, "password": password}))
