"""`safeguard import FILE ...`: import a file into an account, with a progress bar and the report."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from importer.estimate import estimate_rows
from importer.guards import said_once
from importer.reading import FileUnreadable, inspect_file
from importer.settings import SettingsError, parse_settings
from importer.vocabulary import ImportMode, ImportPhase
from service import scratch
from service.cli.context import Context, account_named, choice_of, pass_context
from service.domain import imports
from service.domain.job_queue import worker_name
from service.limits import failure_message, read_limits
from service.models import ImportJob
from service.worker import Heartbeat

REPORT_COUNTS = ("rows", "created", "created_shared_address", "updated", "unchanged", "status_kept",
                 "skipped", "merged_in_file", "rejected")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_name", required=True)
@click.option("--link", default=None, help="Match by this link's external ID (else by e-mail).")
@click.option("--id-column", default=None, help="The column that holds the link's ID.")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD",
              help="Map a column to a field (default: columns named like fields).")
@click.option("--create-field", "new_fields", multiple=True, metavar="FIELD=TYPE",
              help="Create a field for this import.")
@click.option("--mode", type=choice_of(ImportMode), default="upsert", show_default=True)
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
        inspection = inspect_file(file, encoding=encoding, delimiter=delimiter,
                                  limits=read_limits(ctx.app.config))
    except FileUnreadable as error:
        raise click.ClickException(f"cannot read {file}: {failure_message(error)}") from None
    raw = {
        "match": {"by": "external_id", "link": link, "column": id_column} if link else {"by": "email"},
        # Without --map, the job maps columns named like fields (see imports.create_job).
        "mapping": dict(_pairs(mappings, "--map")) if mappings else None,
        "create_fields": dict(_pairs(new_fields, "--create-field")), "mode": mode,
        "empty_clears": empty_clears, "dry_run": dry_run, "delimiter": delimiter, "encoding": encoding,
        "date_format": date_format,
    }
    raw = {key: value for key, value in raw.items() if value is not None}
    # The job works on its own copy: the user's file is never removed. The copy sits with the workers'
    # scratch copies, so that one killed with it is removed by the next import or worker (scratch.py).
    scratch_dir = Path(ctx.app.config["UPLOAD_DIR"])
    scratch_dir.mkdir(parents=True, exist_ok=True)
    scratch.sweep(scratch_dir)
    work_copy = scratch.make("cli", scratch_dir) / file.name
    try:
        shutil.copyfile(file, work_copy)
        job = _queue(ctx, account_name, raw, work_copy)
        finished = _run_with_progress(ctx, job, work_copy,
                                      estimate_rows(file, inspection.format, file.stat().st_size))
    finally:
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


def _queue(ctx: Context, account_name: str, raw: dict[str, Any], path: Path) -> ImportJob:
    """Check the file and the settings against the account, and record the job, held by this
    process: it runs here, where its file is (if this process dies, the job fails, not retried)."""
    try:
        settings = parse_settings(raw)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    with ctx.session() as session:
        return imports.create_job(session, account=account_named(session, account_name),
                                  settings=settings, raw_settings=raw, source=path, filename=path.name,
                                  run_here=worker_name(), lease=_lease(ctx),
                                  limits=read_limits(ctx.app.config))


def _lease(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.app.config["LEASE_SECONDS"])


def _run_with_progress(ctx: Context, job: ImportJob, path: Path, estimate: int) -> ImportJob:
    """Run the job here, with a progress bar on standard error."""
    with click.progressbar(length=estimate, label="Importing", file=sys.stderr, show_pos=True) as bar:
        done = 0

        def on_progress(rows: int, phase: str) -> None:
            nonlocal done
            step = min(rows, estimate) - done
            if step > 0:
                bar.update(step)
                done += step
            if phase == ImportPhase.APPLYING:
                bar.label = "Applying"

        with Heartbeat(ctx.engine, worker_name(), _lease(ctx)):
            finished = imports.run_job(ctx.engine, job.id, worker=worker_name(), source=path,
                                       on_progress=on_progress, limits=read_limits(ctx.app.config))
        bar.update(estimate - done)
    return finished


def _print_report(job_id: int | None, report: dict[str, Any], warnings: list[dict[str, Any]],
                  dry_run: bool) -> None:
    click.echo(f"Import {job_id}" + (" (dry run: nothing was changed)" if dry_run else ""))
    for key in REPORT_COUNTS:
        click.echo(f"  {key:<24}{report.get(key, 0):>10}")
    for reason, count in report.get("rejected_by_reason", {}).items():
        click.echo(f"    {reason:<22}{count:>10}")
    for warning in said_once(warnings):
        click.echo(f"warning [{warning['code']}] {warning['message']}", err=True)
    if report.get("rejected"):
        click.echo(f"  rejected rows: GET /api/v1/imports/{job_id}/rejected.csv")
