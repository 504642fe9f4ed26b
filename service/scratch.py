"""Scratch folders: a worker's local copy of the file it imports, named after the process that made it.

A run removes its folder when it ends; a process killed with SIGKILL (or its host's power lost) cannot,
and each killed attempt left a whole copy of the upload behind (up to SAFEGUARD_MAX_UPLOAD_MB each).
So the folder's name carries the process id, and `sweep` removes the folders of processes that are no
longer alive. Scratch folders are local to a host (README), so a process id names a process here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from service.domain.job_queue import process_alive

log = logging.getLogger(__name__)
NAME = re.compile(r"^import-[\w.]+-pid(\d+)-")


def make(label: str, folder: Path | None) -> Path:
    """A new scratch folder in `folder` (the system's temporary folder if None) for `label` (a job)."""
    return Path(tempfile.mkdtemp(prefix=f"import-{label}-pid{os.getpid()}-", dir=folder))


def sweep(folder: Path | None) -> int:
    """Remove the scratch folders that dead processes left in `folder`; the number removed."""
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.iterdir():
        found = NAME.match(entry.name)
        if found and entry.is_dir() and int(found.group(1)) != os.getpid() and not process_alive(
                int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %s scratch folders that stopped processes left in %s", removed, folder)
    return removed
