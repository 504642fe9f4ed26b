"""Browser tests: the app served by a werkzeug thread against the test database, driven by
Debian's headless Chromium through Playwright. Each test leaves a screenshot in tests/screenshots/.

Playwright's own browser download cannot be used here, so the tests launch `chromium` from PATH;
without it they are skipped, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session
from werkzeug.serving import make_server

from service import background
from service.domain.users import create_user
from service.models import Account

SCREENSHOTS = Path(__file__).parent.parent / "screenshots"


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests are required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    executable = shutil.which("chromium")
    if executable is None:
        _skip_or_fail("the browser tests need Debian's chromium on PATH (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the browser tests need playwright (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app on a free port, in threads of this process; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A fresh browser tab (own cookies); its last view is saved as a screenshot."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{screenshot_name(request.node.name)}.png"), full_page=True)
    context.close()


def screenshot_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


@pytest.fixture
def screenshot(page, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Save the tab as it is now, named after the test and `label`."""

    def save(label: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        name = f"{screenshot_name(request.node.name)}-{label}"
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save


@dataclass
class WebUser:
    email: str
    password: str
    account_id: int


@pytest.fixture
def make_user(engine):  # type: ignore[no-untyped-def]
    """Add a user to an account (by id); return its credentials."""

    def make(account_id: int, email: str, password: str = "correct horse battery") -> WebUser:
        with Session(engine) as session:
            account = session.get(Account, account_id)
            assert account is not None
            create_user(session, account=account, email=email, password=password)
        return WebUser(email, password, account_id)

    return make


@pytest.fixture
def sign_in(page, live_server: str):  # type: ignore[no-untyped-def]
    """Sign the tab in as a user, on the sign-in page."""

    def run(user: WebUser) -> None:
        page.goto(f"{live_server}/sign-in")
        page.get_by_label("E-mail address").fill(user.email)
        page.get_by_label("Password").fill(user.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/")

    return run


@pytest.fixture
def no_worker_in_the_test(app):  # type: ignore[no-untyped-def]
    """The test's own app (there for its fixtures) must not take the jobs the served processes run."""
    background.shutdown(app)
