"""Uploaded files, from the API and the import wizard alike: kept in the database until their job or
draft ends (service/domain/uploads.py), or for a look within one request, in a local temporary file."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import Engine
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from service.domain import uploads
from service.errors import InvalidInput


def _present(upload: FileStorage | None) -> FileStorage:
    if upload is None or not upload.filename:
        raise InvalidInput("send the file as the multipart part 'file'", code="missing_file", part="file")
    return upload


def save_upload(upload: FileStorage | None, upload_dir: str) -> Path:
    """Store an uploaded file locally under a unique name (for this request only); InvalidInput when
    there is none."""
    upload = _present(upload)
    Path(upload_dir).mkdir(parents=True, exist_ok=True)
    path = Path(upload_dir) / f"{uuid.uuid4().hex}-{secure_filename(upload.filename or '') or 'upload'}"
    upload.save(path)
    return path


def store_upload(upload: FileStorage | None, engine: Engine, account_id: int) -> int:
    """Store an uploaded file in the database, streamed in chunks; its upload id. InvalidInput when
    there is none."""
    upload = _present(upload)
    return uploads.store(engine, account_id, upload.filename or "", upload.stream)
