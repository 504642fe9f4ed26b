"""Import reports: the page (with live progress), its JSON progress, the rejected rows, and the
words that say what each count and each rejection reason means."""

from __future__ import annotations

from flask import Response, g, jsonify
from flask.typing import ResponseReturnValue

from service.db import current_engine
from service.db import session as db_session
from service.domain import imports
from service.domain.import_list import import_number
from service.models import ImportJob
from service.web import drafts
from service.web.language import page_csv
from service.web.pages import page
from service.words import lazy_gettext

# (key in the report, label, explanation); `created_shared_address` is a part of `created`,
# `status_kept` of `updated` + `unchanged` (the template indents the two).
REPORT_LINES = [
    ("rows", lazy_gettext("Data rows"), lazy_gettext("rows in the file, the header not counted")),
    ("created", lazy_gettext("New contacts"), lazy_gettext("added to the account")),
    ("created_shared_address", lazy_gettext("… at a shared address"),
     lazy_gettext("of the new contacts: at an address that another contact already has")),
    ("updated", lazy_gettext("Updated"), lazy_gettext("existing contacts that got new values")),
    ("unchanged", lazy_gettext("Unchanged"),
     lazy_gettext("existing contacts whose values were already the same")),
    ("status_kept", lazy_gettext("… status kept"),
     lazy_gettext("of the updated and unchanged: said active for a contact that unsubscribed or bounced, "
                  "which keeps its status (an import never re-subscribes)")),
    ("skipped", lazy_gettext("Skipped"),
     lazy_gettext("left out by the option you chose (only add, or only update)")),
    ("merged_in_file", lazy_gettext("Merged in the file"),
     lazy_gettext("rows for a contact that an earlier row of the file has too")),
    ("rejected", lazy_gettext("Rejected"), lazy_gettext("rows that changed nothing")),
]
# An import's status as the pages say it.
JOB_STATUSES = {
    "queued": lazy_gettext("queued"), "running": lazy_gettext("running"),
    "succeeded": lazy_gettext("succeeded"), "failed": lazy_gettext("failed"),
}
# What an import that has not ended is doing, as its badge says it (a dry run's last step checks the
# plan against the account; a real import's applies it).
PHASE_WORDS = {
    "queued": lazy_gettext("queued"), "reading": lazy_gettext("reading the rows"),
    "checking": lazy_gettext("checking"), "applying": lazy_gettext("applying"),
}


def status_words(job: ImportJob) -> str:
    """The import's badge: its status, or while it runs what it is doing."""
    if job.status not in ("queued", "running"):
        return str(JOB_STATUSES.get(job.status, job.status))
    phase = "checking" if job.phase == "applying" and job.dry_run else str(job.phase)
    return str(PHASE_WORDS.get(phase, JOB_STATUSES.get(job.status, job.status)))


# What the live progress (service/static/app.js) says while an import runs.
PROGRESS_WORDS = {
    "waiting": lazy_gettext("Waiting for the server…"),
    "saving": lazy_gettext("%(rows)s rows read; saving the contacts…"),
    "reading": lazy_gettext("%(rows)s rows read"),
    "estimate": lazy_gettext("%(rows)s rows read of about %(estimate)s"),
}

REASONS = {
    "malformed_row": lazy_gettext("the row has more cells than the header"),
    "missing_key": lazy_gettext("the row has no value in the column it is matched by"),
    "missing_email": lazy_gettext("a new contact needs an e-mail address"),
    "invalid_email": lazy_gettext("the e-mail address is not valid"),
    "invalid_external_id": lazy_gettext("the ID does not look like the linked system's IDs"),
    "invalid_value": lazy_gettext("a value does not fit its field's type"),
    "address_conflict": lazy_gettext("the address belongs to another contact"),
    "id_conflict": lazy_gettext("the contact has another ID in this linked system"),
    "ambiguous_address": lazy_gettext("several contacts share this address; import by external ID"),
    "erased_address": lazy_gettext("the person at this address asked to be forgotten (until an admin "
                                   "lifts it)"),
}


def own_job(import_id: int) -> ImportJob:
    """The signed-in account's import; NotFound (the 404 page) for anyone else's."""
    return imports.own_import(db_session(), g.account.id, import_id)


def report(import_id: int) -> ResponseReturnValue:
    """Step 7, and the page of any import: live progress while it runs, then the report."""
    session = db_session()
    job = imports.settle(current_engine(), own_job(import_id))
    draft = drafts.draft_of_job(session, job.id)
    return page("imports/report.html", job=job, draft=draft, number=import_number(session, job),
                steps=drafts.steps(draft, 7) if draft and draft.import_id == job.id else None,
                report_lines=REPORT_LINES, reasons=REASONS)


def progress(import_id: int) -> ResponseReturnValue:
    """A small JSON answer for the progress bar (the page's session, not an API key)."""
    session = db_session()
    job = imports.settle(current_engine(), own_job(import_id))
    draft = drafts.draft_of_job(session, job.id)
    return jsonify(status=job.status, phase=job.phase, rows_done=job.rows_done, attempts=job.attempts,
                   estimated_rows=draft.estimated_rows if draft else None, badge=status_words(job))


def rejected_csv(import_id: int) -> Response:
    job = own_job(import_id)
    return page_csv(imports.rejected_rows_csv(current_engine(), job), f"import-{job.id}-rejected.csv")
