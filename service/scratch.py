"""Scratch folders: a worker's local copy of the file it imports, named after the process that made it.

A run removes its folder when it ends; a process killed with SIGKILL (or its host's power lost) cannot,
and each killed attempt left a whole copy of the upload behind (up to SAFEGUARD_MAX_UPLOAD_MB each).
So the folder's name carries the host and process id (as a job's `worker` does), and `sweep` removes
the folders of this host's processes that are no longer alive; another host's (a container sharing
the volume, say) it leaves alone, as their process ids mean nothing here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

from service.domain.job_queue import process_alive

log = logging.getLogger(__name__)
NAME = re.compile(r"^import-[\w.]+-pid(\d+)@(.+)-[^-]+$")  # mkdtemp's random part last


def make(label: str, folder: Path | None) -> Path:
    """A new scratch folder in `folder` (the system's temporary folder if None) for `label` (a job)."""
    return Path(tempfile.mkdtemp(prefix=f"import-{label}-pid{os.getpid()}@{socket.gethostname()}-",
                                 dir=folder))


def sweep(folder: Path | None) -> int:
    """Remove the scratch folders that dead processes left in `folder`; the number removed."""
    if folder is None or not folder.is_dir():
        return 0
    removed, host = 0, socket.gethostname()
    for entry in folder.iterdir():
        found = NAME.match(entry.name)
        if found is None or found.group(2) != host or not entry.is_dir():
            continue
        pid = int(found.group(1))
        if pid != os.getpid() and not process_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %s scratch folders that stopped processes left in %s", removed, folder)
    return removed
