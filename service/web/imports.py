"""The import wizard, steps 1-6 of DESIGN.md "Import" (step 7, the report, is in reports.py)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from importer.estimate import estimate_rows
from importer.reading import FileUnreadable, LimitExceeded, inspect_file
from importer.vocabulary import FieldType
from service.db import current_engine, end_reads
from service.db import session as db_session
from service.domain import imports, link_memory, uploads
from service.domain.accounts import account_info, fields_of, links_of
from service.errors import DomainError, InvalidInput, TooManyAttempts
from service.http_errors import in_words
from service.limits import failure_message, read_limits
from service.models import ImportDraft, ImportStatus, Link
from service.uploads import count_upload, store_upload, upload_name
from service.web import drafts, field_links
from service.web.drafts import DELIMITERS, ENCODINGS, MODES
from service.web.pages import page, wait_page, wait_words
from service.web.reports import REASONS, REPORT_LINES, own_job
from service.words import gettext, say


def _wizard_page(template: str, draft: ImportDraft, step: int, status: int = 200,
                 **context: Any) -> tuple[str, int]:
    return page(template, status, draft=draft, steps=drafts.steps(draft, step), **context)


def _open_draft(draft_id: int, step: int) -> ImportDraft:
    """The account's draft, still open, at a step whose earlier steps are done: one that was imported
    leads to its report, a step reached too early (by its address) to the first step not done."""
    draft = drafts.own_draft(db_session(), draft_id)
    if draft.import_id is not None:
        abort(redirect(url_for("web.report", import_id=draft.import_id)))
    undone = drafts.first_undone(draft)
    if undone is not None and undone.number < step:
        abort(redirect(url_for(undone.endpoint, draft_id=draft.id)))
    return draft


# --- step 1: upload --------------------------------------------------------------------------------


def upload() -> ResponseReturnValue:
    titles = [str(title) for title, _, _ in drafts.STEP_TITLES]
    if request.method == "GET":
        return page("imports/upload.html", titles=titles, error=None)
    try:
        count_upload(f"user:{g.user.id}")
    except TooManyAttempts as refused:
        return wait_page("imports/upload.html", refused.retry_after, titles=titles,
                         error=gettext("Too many uploads. Wait %(wait)s, then try again.",
                                       wait=wait_words(refused.retry_after)))
    engine = current_engine()
    try:
        upload_id = store_upload(request.files.get("file"), engine, g.account.id)
    except InvalidInput:
        return page("imports/upload.html", 400, titles=titles, error=gettext("Choose a file to upload."))
    try:
        inspection = inspect_file(uploads.StoredFile(engine, upload_id),
                                  limits=read_limits(current_app.config))
    except FileUnreadable as error:
        uploads.release(engine, upload_id)
        return page("imports/upload.html", 413 if isinstance(error, LimitExceeded) else 400, titles=titles,
                    error=gettext("This file cannot be read: %(problem)s.",
                                  problem=say(failure_message(error))))
    drafts.forget_stale(engine)
    stored = uploads.StoredFile(engine, upload_id)
    draft = ImportDraft(account_id=g.account.id, user_id=g.user.id,
                        filename=upload_name(request.files["file"], default="upload"), upload_id=upload_id,
                        estimated_rows=estimate_rows(stored, inspection.format,
                                                     uploads.size_of(engine, upload_id)))
    session = end_reads(db_session())
    session.add(draft)
    session.commit()
    return redirect(url_for("web.file_settings", draft_id=draft.id))


# --- step 2: file settings -------------------------------------------------------------------------


def file_settings(draft_id: int) -> ResponseReturnValue:
    draft = _open_draft(draft_id, 2)
    if request.method == "POST":
        encoding = request.form.get("encoding", "")
        delimiter = DELIMITERS.get(request.form.get("delimiter", ""), (None,))[0]
        if encoding not in ENCODINGS or delimiter is None:
            abort(400)
        chosen = {"encoding": encoding, "delimiter": delimiter,
                  "has_header": request.form.get("has_header") == "yes"}
        _save_file_settings(draft, chosen)
        if request.form.get("action") == "next":
            return redirect(url_for("web.options", draft_id=draft.id))
        return redirect(url_for("web.file_settings", draft_id=draft.id))
    detected = error = inspection = None
    try:
        detected = drafts.inspect(draft, {}).format
    except FileUnreadable:
        pass
    try:
        inspection = drafts.inspect(draft)
    except FileUnreadable as problem:
        error = gettext("The file cannot be read with these settings: %(problem)s.",
                        problem=say(failure_message(problem)))
    fmt = inspection.format if inspection else None
    chosen = {
        "encoding": draft.settings.get("encoding") or (fmt.encoding if fmt else "utf-8"),
        "delimiter": draft.settings.get("delimiter") or (fmt.delimiter if fmt else ","),
        "has_header": draft.settings.get("has_header", fmt.has_header if fmt else True),
    }
    return _wizard_page("imports/file.html", draft, 2, 200 if inspection else 400, inspection=inspection,
                        detected=detected, chosen=chosen, error=error, encodings=ENCODINGS,
                        delimiters=DELIMITERS)


def _save_file_settings(draft: ImportDraft, chosen: dict) -> None:
    """Store the format; when it changes the columns, the choices made for the old ones go."""
    changes: dict = dict(chosen)
    try:
        before = drafts.inspect(draft).columns
        after = drafts.inspect(draft, {**draft.settings, **chosen}).columns
    except FileUnreadable:
        before, after = [], None
    if before != after:
        changes.update(match=None, mapping=None, create_fields=None)
    drafts.save_settings(db_session(), draft, **changes)


# --- step 3: options -------------------------------------------------------------------------------


def options(draft_id: int) -> ResponseReturnValue:
    draft = _open_draft(draft_id, 3)
    if request.method == "POST":
        mode = request.form.get("mode", "")
        if mode not in MODES:
            abort(400)
        drafts.save_settings(db_session(), draft, mode=mode,
                             empty_clears=request.form.get("empty_clears") == "yes")
        return redirect(url_for("web.external_id", draft_id=draft.id))
    return _wizard_page("imports/options.html", draft, 3, modes=MODES,
                        mode=draft.settings.get("mode", "upsert"),
                        empty_clears=draft.settings.get("empty_clears", False))


# --- step 4: external ID ---------------------------------------------------------------------------


def external_id(draft_id: int) -> ResponseReturnValue:
    draft = _open_draft(draft_id, 4)
    columns = _columns_or_back(draft)
    if not isinstance(columns, list):
        return columns
    session = db_session()
    links = links_of(session, g.account.id)
    match = draft.settings.get("match", {"by": "email"})
    error = None
    if request.method == "POST":
        link, column = request.form.get("link", ""), request.form.get("id_column", "")
        if not link:
            match = {"by": "email"}
        elif link not in {each.name for each in links}:
            abort(400)
        else:
            match = {"by": "external_id", "link": link, "column": column}
            if column not in columns:
                error = gettext("Choose the column that holds the ID.")
        if error is None:
            drafts.save_settings(session, draft, match=match)  # choices made for the fields stay
            return redirect(url_for("web.fields", draft_id=draft.id))
    return _wizard_page("imports/external_id.html", draft, 4, 400 if error else 200, links=links,
                        columns=columns, match=match, error=error,
                        last_link_id=g.account.last_import_link_id,
                        id_columns=_id_columns(draft, links, columns))


def _id_columns(draft: ImportDraft, links: list[Link], columns: list[str]) -> dict[str, str]:
    """For each link, the column preselected when it is chosen: the one that fits it (link_memory)."""
    sample_rows = drafts.inspect(draft).sample_rows
    session = db_session()
    found = {}
    for link in links:
        memory = link_memory.remembered(session, g.account.id, link.name)
        column = link_memory.id_column(session, link, columns, sample_rows, memory.id_column)
        if column is not None:
            found[link.name] = column
    return found


def _columns_or_back(draft: ImportDraft) -> ResponseReturnValue:
    """The file's columns, or a redirect to the file settings when it cannot be read."""
    try:
        return drafts.inspect(draft).columns
    except FileUnreadable:
        return redirect(url_for("web.file_settings", draft_id=draft.id))


# --- step 5: fields --------------------------------------------------------------------------------


def fields(draft_id: int) -> ResponseReturnValue:
    draft = _open_draft(draft_id, 5)
    try:
        inspection = drafts.inspect(draft)
    except FileUnreadable:
        return redirect(url_for("web.file_settings", draft_id=draft.id))
    columns = inspection.columns
    session = db_session()
    account_fields = fields_of(session, g.account.id)
    match = draft.settings.get("match", {"by": "email"})
    id_column = match.get("column")
    error = None
    if request.method == "POST":
        choices = field_links.from_form(request.form, columns, id_column)
        error = field_links.problem(choices, draft.settings, account_info(session, g.account), columns)
        if error is None:
            mapping, create = field_links.settings_of(choices)
            drafts.save_settings(session, draft, mapping=mapping, create_fields=create)
            try:
                drafts.start_job(session, draft, g.account, dry_run=True)
            except DomainError as problem:
                error = in_words(problem.message)
            else:
                return redirect(url_for("web.review", draft_id=draft.id))
    else:
        previous = (link_memory.remembered(session, g.account.id, match["link"]).mapping
                    if match.get("by") == "external_id" else {})
        choices = field_links.from_settings(draft.settings, columns, id_column,
                                            {f.name: f.label for f in account_fields}, previous)
    samples = {column: [row[i] for row in inspection.sample_rows[:3] if i < len(row) and row[i].strip()]
               for i, column in enumerate(columns)}
    links = {link.name: link for link in links_of(session, g.account.id)}
    return _wizard_page("imports/fields.html", draft, 5, 400 if error else 200, rows=choices,
                        samples=samples, account_fields=account_fields,
                        field_types=tuple(FieldType), id_column=id_column,
                        id_link=links.get(match.get("link", "")), error=error,
                        new_field=field_links.NEW_FIELD)


# --- step 6: review (the dry run) ------------------------------------------------------------------


def review(draft_id: int) -> ResponseReturnValue:
    draft = _open_draft(draft_id, 6)
    if draft.dry_run_id is None:
        return redirect(url_for("web.fields", draft_id=draft.id))
    session = db_session()
    dry_run = imports.settle(current_engine(), own_job(draft.dry_run_id))
    error = None
    if request.method == "POST":
        if dry_run.status != ImportStatus.SUCCEEDED:
            abort(400)
        try:
            job = drafts.start_job(session, draft, g.account, dry_run=False)
        except DomainError as problem:
            error = in_words(problem.message)
        else:
            return redirect(url_for("web.report", import_id=job.id))
    links = {link.name: link for link in links_of(session, g.account.id)}
    return _wizard_page("imports/review.html", draft, 6, 400 if error else 200, job=dry_run, error=error,
                        links=links, encodings=ENCODINGS, modes=MODES, report_lines=REPORT_LINES,
                        reasons=REASONS, delimiter_names={v[0]: v[1] for v in DELIMITERS.values()})
