"""What each request pays for its observability: the request id, two metric updates and a JSON log
line (service/observability.py): /healthz with the hooks and without them. Flask's test client."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import background, create_app, observability
from service.db import upgrade_database


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade_database(sqlite_url)
    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "UPLOAD_DIR": str(tmp_path / "up")})
    yield app
    background.shutdown(app)
    app.extensions["safeguard.engine"].dispose()


def _without_hooks(app) -> None:  # type: ignore[no-untyped-def]
    app.before_request_funcs[None].remove(observability._start)
    app.after_request_funcs[None].remove(observability._finish)


@pytest.mark.parametrize("hooks", [True, False], ids=["observed", "bare"])
def test_healthz(benchmark, app, hooks):
    if not hooks:
        _without_hooks(app)
    client = app.test_client()
    benchmark.pedantic(lambda: client.get("/healthz"), rounds=2000, warmup_rounds=200)
