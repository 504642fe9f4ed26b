"""`safeguard segments ...`: save a segment, count it, and export its send list as CSV."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import click
from sqlmodel import Session, select

from segments.collapse import Audience, preview
from service import safe_json
from service.cli.context import Context, CountedRows, account_named, pass_context
from service.domain import field_indexes
from service.domain.segments import create_segment, segment_audience, send_list_rows
from service.downloads import csv_lines
from service.models import Account, Segment

Command = TypeVar("Command", bound=Callable[..., Any])


@click.group("segments")
def segments_group() -> None:
    """Segments: count who they reach and export their send lists."""


def _collapse_options(command: Command) -> Command:
    command = click.option("--representative", default=None,
                           help='most_recently_updated (default), oldest, or the rule as JSON')(command)
    command = click.option("--personalized-by", "personalized_by", multiple=True, metavar="FIELD",
                           help="With the opt-in: one copy per combination of these fields.")(command)
    command = click.option("--allow-shared-address", is_flag=True,
                           help="Each contact at a shared address counts (the opt-in).")(command)
    command = click.option("--account", "account_name", required=True)(command)
    return click.argument("segment")(command)


def _audience(session: Session, account: Account, segment_ref: str, allow_shared_address: bool,
              personalized_by: tuple[str, ...], representative: str | None) -> Audience:
    """The segment named or numbered `segment_ref` in the account, collapsed as asked."""
    query = select(Segment).where(Segment.account_id == account.id)
    if segment_ref.isascii() and segment_ref.isdigit():
        query = query.where(Segment.id == int(segment_ref))
    else:
        query = query.where(Segment.name == segment_ref)
    segment = session.exec(query).first()
    if segment is None:
        raise click.ClickException(f"no segment '{segment_ref}' in account '{account.name}'")
    return segment_audience(session, account, segment, allow_shared_address=allow_shared_address,
                            personalized_by=list(personalized_by), representative=representative)


@segments_group.command("create")
@click.argument("name")
@click.option("--account", "account_name", required=True)
@click.option("--rules", required=True, help='The rule tree as JSON, e.g. \'{"all": []}\'.')
@pass_context
def segments_create(ctx: Context, name: str, account_name: str, rules: str) -> None:
    """Save a segment (its rules are checked against the account's fields)."""
    try:
        tree = safe_json.loads(rules)
    except ValueError as error:
        raise click.ClickException(f"--rules is not valid JSON: {error}") from None
    with ctx.session() as session:
        segment = create_segment(session, account=account_named(session, account_name), name=name,
                                 rules=tree)
        click.echo(f"segment {segment.id} ({segment.name})")


@segments_group.command("count")
@_collapse_options
@pass_context
def segments_count(ctx: Context, segment: str, account_name: str, allow_shared_address: bool,
                   personalized_by: tuple[str, ...], representative: str | None) -> None:
    """Print the segment's preview counts as JSON."""
    with ctx.session() as session:
        audience = _audience(session, account_named(session, account_name), segment,
                             allow_shared_address, personalized_by, representative)
        counts = preview(session.connection(), audience).to_json()
    click.echo(json.dumps(counts, indent=2))


@segments_group.command("export")
@_collapse_options
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write the CSV here (default: standard output).")
@pass_context
def segments_export(ctx: Context, segment: str, account_name: str, allow_shared_address: bool,
                    personalized_by: tuple[str, ...], representative: str | None, output: TextIO) -> None:
    """Write the segment's send list as CSV (one row per recipient, after collapse)."""
    with ctx.session() as session:
        account = account_named(session, account_name)
        audience = _audience(session, account, segment, allow_shared_address, personalized_by,
                             representative)
    rows = CountedRows(send_list_rows(ctx.engine, audience))
    for chunk in csv_lines(rows):  # a chunk holds many lines
        output.write(chunk)
    count = rows.count - 1  # the header is not a recipient
    if output.name != "<stdout>":
        click.echo(f"{count} recipients written to {output.name}", err=True)


@segments_group.command("indexes")
@pass_context
def segments_indexes(ctx: Context) -> None:
    """Index now the fields that saved segments test, and drop the indexes none wants (the workers
    do this in the background too)."""
    done = field_indexes.reconcile(ctx.engine)
    if done.skipped:
        raise click.ClickException("another process is building field indexes; try again shortly")
    for name in done.built:
        click.echo(f"built {name}")
    for name in done.dropped:
        click.echo(f"dropped {name}")
    for name, reason in done.failed.items():
        click.echo(f"could not build {name}: {reason}", err=True)
    if not (done.built or done.dropped or done.failed):
        click.echo("the field indexes are up to date")
