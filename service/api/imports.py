"""Imports: inspect a file, start an import (or a dry run), follow it, download its rejected rows."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request

from importer.aliases import suggest
from importer.reading import FileUnreadable, inspect_file
from service import background, limits
from service.api.routing import CSV_CHOICES, CSV_QUERY, api, csv_dialect, endpoint, page_args, query_flag
from service.db import current_engine, session
from service.domain import imports, link_memory, uploads
from service.domain.accounts import fields_of, links_of
from service.domain.import_list import import_number, import_page
from service.downloads import csv_response
from service.models import ImportJob, ImportList, ImportPublic, InspectionPublic, Scope
from service.uploads import count_upload, save_upload, store_upload, upload_name
from service.worker import run_or_wait

FILE_PART = {"file": "the CSV or TSV file (.gz allowed)"}
IMPORT_PAGE_LIMIT = 1000


def _public(job: ImportJob) -> dict[str, Any]:
    return imports.job_public(job, import_number(session(), job)).model_dump(mode="json")


@endpoint(api, "/imports/inspect", "POST", summary="Detect a file's format and preview it",
          scope=Scope.MANAGE, multipart=FILE_PART, response=InspectionPublic, limits=limits.FILE_LIMITS,
          query={"link": "the link the import will match by: its last import's mapping is suggested "
                         "again, and the column that holds its IDs"})
def inspect() -> dict[str, Any]:
    link_name = request.args.get("link")
    db = session()
    link = link_memory.own_link(links_of(db, g.account.id), link_name) if link_name is not None else None
    count_upload(g.uploader)
    path = save_upload(request.files.get("file"), current_app.config["UPLOAD_DIR"])
    try:
        inspection = inspect_file(path, limits=limits.read_limits(current_app.config))
    except FileUnreadable as error:
        raise limits.file_refusal(error) from None
    finally:
        path.unlink(missing_ok=True)
    fmt = inspection.format
    memory = link_memory.remembered(db, g.account.id, link.name) if link else link_memory.LinkMemory()
    id_column = (link_memory.id_column(db, link, inspection.columns, inspection.sample_rows, memory.id_column)
                 if link else None)
    fields = {f.name: f.label for f in fields_of(db, g.account.id)}
    columns = [column for column in inspection.columns if column != id_column]
    return InspectionPublic(
        encoding=fmt.encoding,
        delimiter=fmt.delimiter,
        has_header=fmt.has_header,
        columns=inspection.columns,
        sample_rows=inspection.sample_rows,
        suggested_mapping=suggest(columns, fields, previous=memory.mapping).mapping,
        suggested_id_column=id_column,
    ).model_dump(mode="json")


@endpoint(api, "/imports", "POST", summary="Import a file (202, or 200 with ?wait=true)",
          scope=Scope.MANAGE,
          multipart={**FILE_PART, "settings": "the import settings as a JSON string"},
          query={"wait": "true: answer when the import is done"},
          response=ImportPublic, status=202,  # the 200 of ?wait=true: service/api/openapi.py
          limits=limits.FILE_LIMITS + "; a limit met while importing fails the job, its error naming it")
def create_import() -> tuple[dict[str, Any], int]:
    wait = query_flag("wait")  # refused before anything is stored or counted
    count_upload(g.uploader)
    settings, raw_settings = imports.parse_settings_text(request.form.get("settings"))
    engine = current_engine()
    upload = request.files.get("file")
    upload_id = store_upload(upload, engine, g.account.id)
    try:
        job = imports.create_job(session(), account=g.account, settings=settings,
                                 raw_settings=raw_settings, source=uploads.StoredFile(engine, upload_id),
                                 filename=upload_name(upload), upload_id=upload_id,
                                 limits=limits.read_limits(current_app.config))
    finally:
        uploads.release(engine, upload_id)  # only if no job took it
    if wait:
        finished = run_or_wait(background.worker_of(), job.id)
        return _public(finished), 200
    background.queued()
    return _public(job), 202


def _own_job(import_id: int) -> ImportJob:
    return imports.own_import(session(), g.account.id, import_id)


@endpoint(api, "/imports/<int:import_id>", "GET", summary="An import's status, progress and report",
          scope=Scope.MANAGE, response=ImportPublic)
def get_import(import_id: int) -> dict[str, Any]:
    return _public(imports.settle(current_engine(), _own_job(import_id)))


@endpoint(api, "/imports", "GET",
          summary="The account's imports, newest first, each with its report; dry runs are not numbered",
          scope=Scope.MANAGE, response=ImportList, page_limit=IMPORT_PAGE_LIMIT,
          query={"cursor": "the next_cursor of the previous page", "limit": "at most 1000 (default 50)"})
def list_imports() -> dict[str, Any]:
    cursor, limit = page_args(default=50, maximum=IMPORT_PAGE_LIMIT)
    page, next_cursor = import_page(session(), g.account.id, before=cursor, limit=limit)
    return ImportList(imports=[imports.job_public(job, number) for job, number in page],
                      next_cursor=next_cursor).model_dump(mode="json")


@endpoint(api, "/imports/<int:import_id>/rejected.csv", "GET",
          summary="The rejected rows with their row number and reason, safe for spreadsheets",
          scope=Scope.MANAGE, content_type="text/csv", query=CSV_QUERY, choices=CSV_CHOICES)
def rejected_csv(import_id: int) -> Response:
    dialect = csv_dialect()
    job = _own_job(import_id)
    return csv_response(imports.rejected_rows_csv(current_engine(), job), f"import-{job.id}-rejected.csv",
                        **dialect)
