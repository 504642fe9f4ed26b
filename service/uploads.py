"""Uploaded files, from the API and the import wizard alike: kept in the database until their job or
draft ends (service/domain/uploads.py), or for a look within one request, in a local temporary file."""

from __future__ import annotations

import uuid
from pathlib import Path, PurePath

from flask import current_app
from sqlalchemy import Engine
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from service.db import session as db_session
from service.domain import rate_limits, uploads
from service.errors import InvalidInput

MAX_NAME = 255  # characters of the upload's own name that the job keeps (its column holds 500)
MAX_DISK_NAME = 100  # of the name on disk, after the unique prefix: file systems stop at 255 bytes


def count_upload(uploader: str) -> None:
    """Count an upload of this uploader ("user:3", "key:<hash>"), or refuse it (TooManyAttempts)
    when they reached SAFEGUARD_UPLOADS_PER_WINDOW: before the file is stored, on every instance."""
    config = current_app.config
    keys = {f"upload:{uploader}": rate_limits.Limit(config["UPLOADS_PER_WINDOW"],
                                                    config["UPLOAD_WINDOW_SECONDS"])}
    rate_limits.refuse_if_over(db_session(), keys, "uploads")
    rate_limits.record(db_session(), keys)


def _present(upload: FileStorage | None) -> FileStorage:
    if upload is None or not upload.filename:
        # Werkzeug drops a whole multipart body whose part headers are not UTF-8 (a file name in
        # Latin-1, say) without a word: say so, or the sender looks for a part they did send.
        raise InvalidInput("send the file, with its name, as the multipart part 'file' (the parts' "
                           "headers, the file name too, must be UTF-8)", code="missing_file", part="file")
    return upload


def save_upload(upload: FileStorage | None, upload_dir: str) -> Path:
    """Store an uploaded file locally under a unique name (for this request only); InvalidInput when
    there is none."""
    upload = _present(upload)
    Path(upload_dir).mkdir(parents=True, exist_ok=True)
    safe = secure_filename(upload.filename or "")[-MAX_DISK_NAME:] or "upload"
    path = Path(upload_dir) / f"{uuid.uuid4().hex}-{safe}"
    upload.save(path)
    return path


def store_upload(upload: FileStorage | None, engine: Engine, account_id: int) -> int:
    """Store an uploaded file in the database, streamed in chunks; its upload id. InvalidInput when
    there is none."""
    upload = _present(upload)
    return uploads.store(engine, account_id, upload_name(upload), upload.stream)


def upload_name(upload: FileStorage | None, default: str = "") -> str:
    """The upload's name as the user knows it, shortened (keeping its extension) to MAX_NAME."""
    name = (upload.filename if upload else None) or default
    if len(name) <= MAX_NAME:
        return name
    suffix = PurePath(name).suffix[:20]
    return name[:MAX_NAME - len(suffix) - 1] + "…" + suffix
