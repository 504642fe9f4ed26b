"""Imports: inspect a file, start an import (or a dry run), follow it, download its rejected rows."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request

from importer.reading import FileUnreadable, inspect_file, suggest_mapping
from service import background
from service.api.routing import api, endpoint
from service.db import current_engine, session
from service.domain import imports
from service.domain.accounts import fields_of
from service.downloads import csv_response
from service.errors import InvalidInput
from service.models import ImportJob, ImportPublic, InspectionPublic, Scope
from service.uploads import save_upload, upload_name

FILE_PART = {"file": "the CSV or TSV file (.gz allowed)"}


@endpoint(api, "/imports/inspect", "POST", summary="Detect a file's format and preview it",
          scope=Scope.MANAGE, multipart=FILE_PART, response=InspectionPublic)
def inspect() -> dict[str, Any]:
    path = save_upload(request.files.get("file"), current_app.config["UPLOAD_DIR"])
    try:
        inspection = inspect_file(path)
    except FileUnreadable as error:
        raise InvalidInput(str(error), code="unreadable_file") from None
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
          scope=Scope.MANAGE,
          multipart={**FILE_PART, "settings": "the import settings as a JSON string"},
          query={"wait": "true: answer when the import is done"},
          response=ImportPublic, status=202)
def create_import() -> tuple[dict[str, Any], int]:
    settings, raw_settings = imports.parse_settings_text(request.form.get("settings"))
    upload = request.files.get("file")
    path = save_upload(upload, current_app.config["UPLOAD_DIR"])
    try:
        job = imports.create_job(session(), account=g.account, settings=settings,
                                 raw_settings=raw_settings, path=path,
                                 filename=upload_name(upload))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    if request.args.get("wait", "").lower() in ("1", "true", "yes"):
        finished = imports.run_job(current_engine(), job.id, path)
        return imports.job_public(finished).model_dump(mode="json"), 200
    background.submit(job.id, path)
    return imports.job_public(job).model_dump(mode="json"), 202


def _own_job(import_id: int) -> ImportJob:
    return imports.own_import(session(), g.account.id, import_id)


@endpoint(api, "/imports/<int:import_id>", "GET", summary="An import's status, progress and report",
          scope=Scope.MANAGE, response=ImportPublic)
def get_import(import_id: int) -> dict[str, Any]:
    job = imports.settle_if_dead(session(), _own_job(import_id))
    return imports.job_public(job).model_dump(mode="json")


@endpoint(api, "/imports/<int:import_id>/rejected.csv", "GET",
          summary="The rejected rows with their row number and reason, safe for spreadsheets",
          scope=Scope.MANAGE, content_type="text/csv")
def rejected_csv(import_id: int) -> Response:
    job = _own_job(import_id)
    return csv_response(imports.rejected_rows_csv(current_engine(), job), f"import-{job.id}-rejected.csv")
