"""The import wizard's state: a draft holds the uploaded file and the choices made so far.

`draft.settings` holds exactly the API's import settings (see DESIGN.md), so that the job the
wizard starts is the one the API would run with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, g, url_for
from sqlalchemy import Engine, or_, select
from sqlmodel import Session, col

from importer.reading import FileUnreadable, Inspection, inspect_file
from importer.said import message_of, said
from importer.settings import parse_settings
from service import background
from service.db import current_engine, end_reads, owned
from service.domain import imports, uploads
from service.errors import InvalidInput
from service.limits import read_limits
from service.models import Account, ImportDraft, ImportJob
from service.words import lazy_gettext

ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": lazy_gettext("UTF-8 with BOM"),
    "utf-16": lazy_gettext("UTF-16 (with BOM)"),
    "utf-16-le": lazy_gettext("UTF-16, little-endian (no BOM)"),
    "utf-16-be": lazy_gettext("UTF-16, big-endian (no BOM)"),
    "cp1252": lazy_gettext("Windows-1252 (Western European)"),
    "latin-1": "Latin-1 (ISO-8859-1)",
}
# Form values name the delimiter: a tab in an HTML attribute does not survive copy and paste.
DELIMITERS = {"comma": (",", lazy_gettext("Comma ( , )")),
              "semicolon": (";", lazy_gettext("Semicolon ( ; )")),
              "tab": ("\t", lazy_gettext("Tab")), "bar": ("|", lazy_gettext("Vertical bar ( | )"))}
MODES = {
    "upsert": (lazy_gettext("Add and update"),
               lazy_gettext("New contacts are added, existing contacts are updated.")),
    "create_only": (lazy_gettext("Only add new contacts"),
                    lazy_gettext("Existing contacts are left alone (counted as skipped).")),
    "update_only": (lazy_gettext("Only update existing contacts"),
                    lazy_gettext("Rows for new contacts are skipped.")),
}


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    url: str | None  # None: not reachable from here
    current: bool


# The wizard's steps, with the setting whose presence says the step was done.
STEP_TITLES = [(lazy_gettext("Upload"), None, None),
               (lazy_gettext("File settings"), "web.file_settings", "encoding"),
               (lazy_gettext("Options"), "web.options", "mode"),
               (lazy_gettext("External ID"), "web.external_id", "match"),
               (lazy_gettext("Fields"), "web.fields", "mapping"),
               (lazy_gettext("Review"), "web.review", None),
               (lazy_gettext("Report"), None, None)]


@dataclass(frozen=True)
class OpenStep:
    number: int
    endpoint: str


def first_undone(draft: ImportDraft) -> OpenStep | None:
    """The first step whose choice the draft does not have yet (None: all of them are made)."""
    for number, (_, endpoint, done_key) in enumerate(STEP_TITLES, 1):
        if endpoint is not None and done_key is not None and done_key not in draft.settings:
            return OpenStep(number, endpoint)
    return None


def steps(draft: ImportDraft, current: int) -> list[Step]:
    """The stepper: every step up to the first one not done yet can be opened again, until the
    draft is imported."""
    result, reachable = [], draft.import_id is None
    for number, (title, endpoint, done_key) in enumerate(STEP_TITLES, 1):
        url = url_for(endpoint, draft_id=draft.id) if endpoint and reachable else None
        if number == 6 and draft.dry_run_id is None:
            url = None  # the review shows a dry run: the fields step starts it
        result.append(Step(number, str(title), url, number == current))
        if done_key is not None and done_key not in draft.settings:
            reachable = False
    return result


def forget_stale(engine: Engine) -> None:
    """Remove drafts left unimported for DRAFT_LIFETIME, and the uploads nothing needs any more."""
    uploads.sweep(engine)


def own_draft(session: Session, draft_id: int) -> ImportDraft:
    """The signed-in account's draft; 404 for anyone else's."""
    draft = owned(session, ImportDraft, draft_id, g.account.id)
    if draft is None:
        abort(404)
    return draft


def inspect(draft: ImportDraft, settings: dict[str, Any] | None = None) -> Inspection:
    """Read the draft's file with its chosen (or else detected) format; FileUnreadable if it cannot."""
    chosen = draft.settings if settings is None else settings
    return inspect_file(_stored_file(draft), encoding=chosen.get("encoding"),
                        delimiter=chosen.get("delimiter"), has_header=chosen.get("has_header"),
                        limits=read_limits(current_app.config))


def save_settings(session: Session, draft: ImportDraft, **changes: Any) -> None:
    """Store changed settings; the dry run of the old ones no longer tells what will happen.

    A new dict, not an update in place: the JSON column notices replacement, not mutation.
    """
    end_reads(session)
    settings = {**draft.settings, **changes}
    draft.settings = {key: value for key, value in settings.items() if value is not None}
    draft.dry_run_id = None
    session.add(draft)
    session.commit()


def _stored_file(draft: ImportDraft) -> uploads.StoredFile:
    if draft.upload_id is None:
        raise FileUnreadable(said("the uploaded file is no longer kept; upload it again"))
    return uploads.StoredFile(current_engine(), draft.upload_id)


def start_job(session: Session, draft: ImportDraft, account: Account, *, dry_run: bool) -> ImportJob:
    """Queue the draft's import (or dry run), like the API's POST /imports, on the draft's upload.

    The upload stays while the draft is open: the dry run's end leaves it for the real import.
    The draft records the job in the same request, before a worker can report on it.
    Raises InvalidInput when the file or the settings cannot be used.
    """
    raw = {**draft.settings, "dry_run": dry_run}
    try:
        source = _stored_file(draft)
    except FileUnreadable as error:
        raise InvalidInput(message_of(error), code="unreadable_file") from None
    job = imports.create_job(session, account=account, settings=parse_settings(raw), raw_settings=raw,
                             source=source, filename=draft.filename, upload_id=draft.upload_id,
                             limits=read_limits(current_app.config))
    end_reads(session)
    if dry_run:
        draft.dry_run_id = job.id
    else:
        draft.import_id = job.id
    session.add(draft)
    session.commit()
    background.queued()
    return job


def draft_of_job(session: Session, job_id: int) -> ImportDraft | None:
    """The wizard draft that started this job (an API import has none)."""
    query = select(ImportDraft).where(or_(col(ImportDraft.import_id) == job_id,
                                          col(ImportDraft.dry_run_id) == job_id))
    return session.execute(query).scalars().first()
