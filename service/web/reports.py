"""Import reports: the page (with live progress), its JSON progress, the rejected rows, and the
words that say what each count and each rejection reason means."""

from __future__ import annotations

from collections.abc import Iterator

from flask import abort, g, jsonify
from sqlalchemy import Engine
from sqlmodel import Session

from service import import_jobs
from service.api.csv_stream import csv_response
from service.db import current_engine, owned
from service.db import session as db_session
from service.models import ImportJob
from service.web import drafts
from service.web.pages import page

# (key in the report, label, explanation); `created_shared_address` is a part of `created`.
REPORT_LINES = [
    ("rows", "Data rows", "rows in the file, the header not counted"),
    ("created", "New contacts", "added to the account"),
    ("created_shared_address", "… at a shared address",
     "of the new contacts: at an address that another contact already has"),
    ("updated", "Updated", "existing contacts that got new values"),
    ("unchanged", "Unchanged", "existing contacts whose values were already the same"),
    ("skipped", "Skipped", "left out by the option you chose (only add, or only update)"),
    ("merged_in_file", "Merged in the file", "rows for a contact that an earlier row of the file has too"),
    ("rejected", "Rejected", "rows that changed nothing"),
]

REASONS = {
    "malformed_row": "the row has more cells than the header",
    "missing_key": "the row has no value in the column it is matched by",
    "missing_email": "a new contact needs an e-mail address",
    "invalid_email": "the e-mail address is not valid",
    "invalid_external_id": "the ID does not look like the linked system's IDs",
    "invalid_value": "a value does not fit its field's type",
    "address_conflict": "the address belongs to another contact",
    "id_conflict": "the contact has another ID in this linked system",
    "ambiguous_address": "several contacts share this address; import by external ID",
}


def own_job(import_id: int) -> ImportJob:
    """The signed-in account's import; 404 for anyone else's."""
    job = owned(db_session(), ImportJob, import_id, g.account.id)
    if job is None:
        abort(404)
    return job


def report(import_id: int):  # type: ignore[no-untyped-def]
    """Step 7, and the page of any import: live progress while it runs, then the report."""
    session = db_session()
    job = import_jobs.settle_if_dead(session, own_job(import_id))
    draft = drafts.draft_of_job(session, job.id)
    return page("imports/report.html", job=job, draft=draft,
                steps=drafts.steps(draft, 7) if draft and draft.import_id == job.id else None,
                report_lines=REPORT_LINES, reasons=REASONS)


def progress(import_id: int):  # type: ignore[no-untyped-def]
    """A small JSON answer for the progress bar (the page's session, not an API key)."""
    session = db_session()
    job = import_jobs.settle_if_dead(session, own_job(import_id))
    draft = drafts.draft_of_job(session, job.id)
    return jsonify(status=job.status, phase=job.phase, rows_done=job.rows_done,
                   estimated_rows=draft.estimated_rows if draft else None)


def rejected_csv(import_id: int):  # type: ignore[no-untyped-def]
    job = own_job(import_id)
    return csv_response(_rejected_rows(current_engine(), job), f"import-{job.id}-rejected.csv")


def _rejected_rows(engine: Engine, job: ImportJob) -> Iterator[list[str]]:
    # The response streams after the request's session is closed: a session of its own.
    with Session(engine) as stream_session:
        yield from import_jobs.rejected_rows_csv(stream_session, job)
