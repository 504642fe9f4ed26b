"""Uploaded files, from the API and the import wizard alike: stored under a unique name until used."""

from __future__ import annotations

import uuid
from pathlib import Path, PurePath

from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from service.errors import InvalidInput

MAX_NAME = 255  # characters of the upload's own name that the job keeps (its column holds 500)
MAX_DISK_NAME = 100  # of the name on disk, after the unique prefix: file systems stop at 255 bytes


def save_upload(upload: FileStorage | None, upload_dir: str) -> Path:
    """Store an uploaded file under a unique name; InvalidInput when there is none."""
    if upload is None or not upload.filename:
        raise InvalidInput("send the file as the multipart part 'file'", code="missing_file", part="file")
    safe = secure_filename(upload.filename)[-MAX_DISK_NAME:] or "upload"
    path = Path(upload_dir) / f"{uuid.uuid4().hex}-{safe}"
    upload.save(path)
    return path


def upload_name(upload: FileStorage | None, default: str = "") -> str:
    """The upload's name as the user knows it, shortened (keeping its extension) to MAX_NAME."""
    name = (upload.filename if upload else None) or default
    if len(name) <= MAX_NAME:
        return name
    suffix = PurePath(name).suffix[:20]
    return name[:MAX_NAME - len(suffix) - 1] + "…" + suffix
