"""The `safeguard` command line: accounts, keys, links, fields, imports, the database and serving."""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import click

from importer.reading import FileUnreadable, inspect_file
from importer.settings import SettingsError, parse_settings
from service import accounts, import_jobs, users
from service.auth import create_key
from service.cli_context import Context, account_named, pass_context
from service.cli_dedup import dedup_group
from service.cli_segments import segments_group
from service.cli_users import users_group
from service.db import upgrade_database
from service.errors import APIError

DEMO_USER = "demo@example.com"


@click.group()
def main() -> None:
    """Mailing safeguard: contact imports with deduplication, and a pre-send check."""


main.add_command(segments_group)
main.add_command(dedup_group)
main.add_command(users_group)


@main.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database (DATABASE_URL) to the newest schema."""
    upgrade_database(ctx.app.config["DATABASE_URL"])
    click.echo("database is up to date", err=True)


@main.group("accounts")
def accounts_group() -> None:
    """Accounts (tenants)."""


@accounts_group.command("create")
@click.argument("name")
@click.option("--dedup", type=click.Choice(["email", "external_id"]), default="email",
              show_default=True, help="How imports deduplicate contacts.")
@pass_context
def accounts_create(ctx: Context, name: str, dedup: str) -> None:
    """Create an account."""
    with ctx.session() as session:
        try:
            account = accounts.create_account(session, name=name, dedup_mode=dedup)
        except APIError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"account {account.name} (id {account.id}, dedup by {account.dedup_mode})")


@main.group("keys")
def keys_group() -> None:
    """API keys."""


@keys_group.command("create")
@click.argument("account")
@click.option("--scope", type=click.Choice(["manage", "send", "admin"]), required=True)
@pass_context
def keys_create(ctx: Context, account: str, scope: str) -> None:
    """Create an API key; it is printed once, alone on standard output."""
    with ctx.session() as session:
        click.echo(create_key(session, account=account_named(session, account), scope=scope))


@main.group("links")
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
        try:
            link = accounts.create_link(session, account=account_named(session, account), name=name,
                                        label=label, id_pattern=id_pattern)
        except APIError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"link {link.name} ({link.label})")


@main.group("fields")
def fields_group() -> None:
    """Typed contact fields."""


@fields_group.command("create")
@click.argument("account")
@click.argument("name")
@click.argument("type", type=click.Choice(["text", "number", "date", "boolean"]))
@pass_context
def fields_create(ctx: Context, account: str, name: str, type: str) -> None:
    """Add a field to an account."""
    with ctx.session() as session:
        try:
            accounts.create_field(session, account=account_named(session, account), name=name, type=type)
        except APIError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"field {name} ({type})")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_name", required=True)
@click.option("--link", default=None, help="Match by this link's external ID (else by e-mail).")
@click.option("--id-column", default=None, help="The column that holds the link's ID.")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD",
              help="Map a column to a field (default: columns named like fields).")
@click.option("--create-field", "new_fields", multiple=True, metavar="FIELD=TYPE",
              help="Create a field for this import.")
@click.option("--mode", type=click.Choice(["upsert", "create_only", "update_only"]), default="upsert",
              show_default=True)
@click.option("--empty-clears", is_flag=True, help="An empty cell clears the field.")
@click.option("--delimiter", default=None)
@click.option("--encoding", default=None)
@click.option("--date-format", default=None, help='e.g. "%m/%d/%Y" (default: ISO or day-first)')
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@pass_context
def import_file(ctx: Context, file: Path, account_name: str, link: str | None, id_column: str | None,
                mappings: tuple[str, ...], new_fields: tuple[str, ...], mode: str, empty_clears: bool,
                delimiter: str | None, encoding: str | None, date_format: str | None,
                dry_run: bool) -> None:
    """Import a CSV/TSV file (.gz allowed) into an account, with a progress bar and a report."""
    if bool(link) != bool(id_column):
        raise click.UsageError("--link and --id-column go together")
    try:
        inspection = inspect_file(file, encoding=encoding, delimiter=delimiter)
    except FileUnreadable as error:
        raise click.ClickException(f"cannot read {file}: {error}") from None
    with ctx.session() as session:
        account = account_named(session, account_name)
        created = dict(_pairs(new_fields, "--create-field"))
        # Without --map, the job maps columns named like fields (see import_jobs.create_job).
        mapping = dict(_pairs(mappings, "--map")) if mappings else None
        raw = {
            "match": {"by": "external_id", "link": link, "column": id_column} if link
            else {"by": "email"},
            "mapping": mapping, "create_fields": created, "mode": mode, "empty_clears": empty_clears,
            "dry_run": dry_run, "delimiter": delimiter, "encoding": encoding,
            "date_format": date_format,
        }
        raw = {k: v for k, v in raw.items() if v is not None}
        try:
            settings = parse_settings(raw)
        except SettingsError as error:
            raise click.ClickException(str(error)) from None
        # The job works on its own copy: the user's file is never removed.
        work_copy = Path(tempfile.mkdtemp()) / file.name
        shutil.copyfile(file, work_copy)
        try:
            job = import_jobs.create_job(session, account=account, settings=settings,
                                         raw_settings=raw, path=work_copy, filename=file.name)
        except APIError as error:
            shutil.rmtree(work_copy.parent, ignore_errors=True)
            raise click.ClickException(error.message) from None
    estimate = _estimated_rows(file, inspection)
    with click.progressbar(length=estimate, label="Importing", file=sys.stderr,
                           show_pos=True) as bar:
        done = [0]

        def on_progress(rows: int, phase: str) -> None:
            step = min(rows, estimate) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step
            if phase == "applying":
                bar.label = "Applying"

        finished = import_jobs.run_job(ctx.app.extensions["safeguard.engine"], job.id, work_copy,
                                       on_progress=on_progress)
        bar.update(estimate - done[0])
    shutil.rmtree(work_copy.parent, ignore_errors=True)
    if finished.status != "succeeded":
        raise click.ClickException(f"import failed: {finished.error}")
    _print_report(finished.id, finished.report or {}, finished.warnings or [], dry_run)


def _pairs(items: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        left, sep, right = item.partition("=")
        if not sep or not left or not right:
            raise click.UsageError(f"{option} takes NAME=VALUE, not '{item}'")
        pairs.append((left, right))
    return pairs


def _estimated_rows(file: Path, inspection) -> int:  # type: ignore[no-untyped-def]
    """Guess the number of rows from the file size and the sample (for the progress bar only)."""
    rows = inspection.sample_rows
    if not rows or inspection.format.compressed:
        return max(len(rows), 1)
    per_row = max(sum(len(inspection.format.delimiter.join(r)) + 1 for r in rows) / len(rows), 1)
    return max(int(file.stat().st_size / per_row), 1)


def _print_report(job_id: int, report: dict, warnings: list[dict], dry_run: bool) -> None:
    title = f"Import {job_id}" + (" (dry run: nothing was changed)" if dry_run else "")
    click.echo(title)
    for key in ("rows", "created", "created_shared_address", "updated", "unchanged", "skipped",
                "merged_in_file", "rejected"):
        click.echo(f"  {key:<24}{report.get(key, 0):>10}")
    for reason, count in report.get("rejected_by_reason", {}).items():
        click.echo(f"    {reason:<22}{count:>10}")
    for warning in warnings:
        click.echo(f"warning [{warning['code']}] {warning['message']}", err=True)
    if report.get("rejected"):
        click.echo(f"  rejected rows: GET /api/v1/imports/{job_id}/rejected.csv")


@main.command("demo")
@pass_context
def demo(ctx: Context) -> None:
    """Create the demo account (external-ID dedup, a `crm` link) and print a manage key and a
    user's password, once."""
    with ctx.session() as session:
        existing = accounts.find_account(session, "demo")
        if existing is not None:
            click.echo("demo account exists already (keys are shown only when made)", err=True)
            _demo_user(session, existing)
            return
        account = accounts.create_account(session, name="demo", dedup_mode="external_id")
        accounts.create_link(session, account=account, name="crm", label="Customer number")
        for name, type_ in (("first_name", "text"), ("last_name", "text"), ("city", "text"),
                            ("birth_date", "date")):
            accounts.create_field(session, account=account, name=name, type=type_)
        key = create_key(session, account=account, scope="manage")
        password = secrets.token_urlsafe(12)
        users.create_user(session, account=account, email=DEMO_USER, password=password)
        click.echo(json.dumps({"account": "demo", "manage_key": key, "user": DEMO_USER,
                               "password": password}))


def _demo_user(session, account) -> None:  # type: ignore[no-untyped-def]
    """Add the demo user to a demo account made before there were users; say who signs in."""
    if users.find_user(session, DEMO_USER) is not None:
        click.echo(f"sign in as {DEMO_USER} with the password printed when it was made, or make "
                   "another user: safeguard users create demo EMAIL", err=True)
        return
    password = secrets.token_urlsafe(12)
    users.create_user(session, account=account, email=DEMO_USER, password=password)
    click.echo(json.dumps({"account": "demo", "user": DEMO_USER, "password": password}))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API and pages with gunicorn (a production WSGI server)."""
    from service.server import serve as run_server

    run_server(host, port, workers)


if __name__ == "__main__":
    main()
