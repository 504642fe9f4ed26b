"""Uploaded files, from the API and the import wizard alike: stored under a unique name until used."""

from __future__ import annotations

import uuid
from pathlib import Path

from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from service.errors import InvalidInput


def save_upload(upload: FileStorage | None, upload_dir: str) -> Path:
    """Store an uploaded file under a unique name; InvalidInput when there is none."""
    if upload is None or not upload.filename:
        raise InvalidInput("send the file as the multipart part 'file'", code="missing_file", part="file")
    path = Path(upload_dir) / f"{uuid.uuid4().hex}-{secure_filename(upload.filename) or 'upload'}"
    upload.save(path)
    return path
