"""Imports: inspect a file, start an import (or a dry run), follow it, download its rejected rows."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import current_app, g, request
from sqlalchemy import Engine
from sqlmodel import Session

from importer.reading import FileUnreadable, inspect_file, suggest_mapping
from service import import_jobs
from service.accounts import fields_of
from service.api import api
from service.api.csv_stream import csv_response
from service.api.routing import endpoint
from service.db import current_engine, owned, session
from service.errors import APIError, not_found
from service.models import ImportJob, ImportPublic, InspectionPublic

FILE_PART = {"file": "the CSV or TSV file (.gz allowed)"}


@endpoint(api, "/imports/inspect", "POST", summary="Detect a file's format and preview it",
          scope="manage", multipart=FILE_PART, response=InspectionPublic)
def inspect():  # type: ignore[no-untyped-def]
    path = import_jobs.save_upload(request.files.get("file"), current_app.config["UPLOAD_DIR"])
    try:
        inspection = inspect_file(path)
    except FileUnreadable as error:
        raise APIError(400, "unreadable_file", str(error)) from None
    finally:
        path.unlink(missing_ok=True)
    fmt = inspection.format
    field_names = ["email", "status", *(f.name for f in fields_of(session(), g.account.id))]
    return InspectionPublic(
        encoding=fmt.encoding,
        delimiter=fmt.delimiter,
        has_header=fmt.has_header,
        columns=inspection.columns,
        sample_rows=inspection.sample_rows,
        suggested_mapping=suggest_mapping(inspection.columns, field_names),
    ).model_dump(mode="json")


@endpoint(api, "/imports", "POST", summary="Import a file (202, or 200 with ?wait=true)",
          scope="manage",
          multipart={**FILE_PART, "settings": "the import settings as a JSON string"},
          query={"wait": "true: answer when the import is done"},
          response=ImportPublic, status=202)
def create_import():  # type: ignore[no-untyped-def]
    settings = import_jobs.parse_settings_text(request.form.get("settings"))
    raw_settings = json.loads(request.form.get("settings") or "{}")
    upload = request.files.get("file")
    path = import_jobs.save_upload(upload, current_app.config["UPLOAD_DIR"])
    try:
        job = import_jobs.create_job(session(), account=g.account, settings=settings,
                                     raw_settings=raw_settings, path=path,
                                     filename=upload.filename if upload else "")
    except APIError:
        path.unlink(missing_ok=True)
        raise
    if request.args.get("wait", "").lower() in ("1", "true", "yes"):
        finished = import_jobs.run_job(current_engine(), job.id, path)
        return import_jobs.job_public(finished).model_dump(mode="json"), 200
    import_jobs.submit(current_app._get_current_object(), job.id, path)  # type: ignore[attr-defined]
    return import_jobs.job_public(job).model_dump(mode="json"), 202


def _own_job(import_id: int) -> ImportJob:
    job = owned(session(), ImportJob, import_id, g.account.id)
    if job is None:
        raise not_found("import")
    return job


@endpoint(api, "/imports/<int:import_id>", "GET", summary="An import's status, progress and report",
          scope="manage", response=ImportPublic)
def get_import(import_id: int):  # type: ignore[no-untyped-def]
    job = import_jobs.settle_if_dead(session(), _own_job(import_id))
    return import_jobs.job_public(job).model_dump(mode="json")


@endpoint(api, "/imports/<int:import_id>/rejected.csv", "GET",
          summary="The rejected rows with their row number and reason, safe for spreadsheets",
          scope="manage", content_type="text/csv")
def rejected_csv(import_id: int):  # type: ignore[no-untyped-def]
    job = _own_job(import_id)
    return csv_response(_rejected_rows(current_engine(), job), f"import-{job.id}-rejected.csv")


def _rejected_rows(engine: Engine, job: ImportJob) -> Iterator[list[str]]:
    with Session(engine) as stream_session:
        yield from import_jobs.rejected_rows_csv(stream_session, job)
