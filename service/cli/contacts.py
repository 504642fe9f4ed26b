"""`safeguard contacts ...`: every contact of an account out, as CSV."""

from __future__ import annotations

from typing import BinaryIO

import click

from service.cli.context import Context, CountedRows, account_named, pass_context
from service.domain.contact_export import export_rows
from service.downloads import DELIMITERS, csv_lines


@click.group("contacts")
def contacts_group() -> None:
    """Contacts: export all of an account's contacts."""


@contacts_group.command("export")
@click.argument("account")
@click.option("--output", "-o", type=click.File("wb"), default="-",
              help="Write the CSV here (default: standard output).")
@click.option("--delimiter", type=click.Choice(list(DELIMITERS)), default=",", show_default=True,
              help="; for a Dutch spreadsheet.")
@click.option("--bom", is_flag=True, help="Start with a byte-order mark (for Excel).")
@pass_context
def contacts_export(ctx: Context, account: str, output: BinaryIO, delimiter: str, bom: bool) -> None:
    """Write every contact (id, email, status, times, fields, IDs) as UTF-8 CSV, streamed."""
    with ctx.session() as session:
        account_id = account_named(session, account).id
    rows = CountedRows(export_rows(ctx.engine, account_id))
    for chunk in csv_lines(rows, delimiter=DELIMITERS[delimiter], bom=bom):
        output.write(chunk.encode("utf-8"))
    name = getattr(output, "name", "<stdout>")
    if name != "<stdout>":
        click.echo(f"{rows.count - 1} contacts written to {name}", err=True)
