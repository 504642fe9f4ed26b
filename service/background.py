"""Running import jobs in the background of this process: a small pool of threads per app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask, current_app

from service.domain.imports import run_job

EXECUTOR = "safeguard.imports"


def init_app(app: Flask) -> None:
    """Give the app its pool of import threads, and the folder uploads wait in."""
    app.extensions[EXECUTOR] = ThreadPoolExecutor(max_workers=app.config["IMPORT_WORKERS"],
                                                  thread_name_prefix="import")
    Path(app.config["UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)


def submit(job_id: int, path: Path) -> None:
    """Run the queued job in the background of this process; the job removes its file when done."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions[EXECUTOR].submit(_run_in_app, app, job_id, path)


def _run_in_app(app: Flask, job_id: int, path: Path) -> None:
    with app.app_context():
        run_job(app.extensions["safeguard.engine"], job_id, path)


def shutdown(app: Flask) -> None:
    """Wait for the running imports to end (tests and the command line, before they close the engine)."""
    app.extensions[EXECUTOR].shutdown(wait=True)
