"""The contact pages on the 1M-row benchmark account, through the Flask test client signed in:
the list's first page, a page deep into the account, each way of searching, a rare status, and a
contact's page. Each is one keyset query (no OFFSET) plus the counts per status, so a page deep
into a million contacts costs what the first page does. Run with `make bench`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import Session, select

from service import background, create_app
from service.domain.users import create_user
from service.models import Account

PASSWORD = "a long benchmark secret"


class Pages:
    """A signed-in test client of the benchmark account, and a few of its contacts to look up."""

    def __init__(self, url: str) -> None:
        self.app = create_app({"DATABASE_URL": url, "TESTING": True})
        engine = self.app.extensions["safeguard.engine"]
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"  # the loaded database is kept between runs
        with Session(engine) as session:
            account = session.exec(select(Account).where(Account.name == "bench")).one()
            create_user(session, account=account, email=email, password=PASSWORD)
            account_id = account.id
        with engine.connect() as conn:
            self.last_id = conn.execute(text("SELECT max(id) FROM contacts WHERE account_id = :a"),
                                        {"a": account_id}).scalar_one()
            self.middle = conn.execute(text(
                "SELECT c.id, c.email, e.value FROM contacts c JOIN external_ids e ON e.contact_id = c.id "
                "WHERE c.account_id = :a AND c.id >= :m ORDER BY c.id LIMIT 1"),
                {"a": account_id, "m": self.last_id // 2}).one()
        self.client: FlaskClient = self.app.test_client()
        form = self.client.get("/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        signed = self.client.post("/sign-in", data={"email": email, "password": PASSWORD,
                                                    "csrf_token": token.group(1)})
        assert signed.status_code == 302

    def get(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, path
        return response.get_data(as_text=True)

    def close(self) -> None:
        background.shutdown(self.app)
        self.app.extensions["safeguard.engine"].dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pages(request: pytest.FixtureRequest) -> Iterator[Pages]:
    url = request.getfixturevalue(f"loaded_{'postgres' if request.param == 'postgresql' else 'sqlite'}")
    pages = Pages(url)
    yield pages
    pages.close()


def _page_of(pages: Pages, benchmark, path: str, expected_rows: int | None = None) -> str:  # type: ignore[no-untyped-def]
    page = benchmark.pedantic(pages.get, args=(path,), rounds=5, warmup_rounds=1)
    if expected_rows is not None:
        assert page.count('<tr data-contact="') == expected_rows, path
    return page


def test_first_page(benchmark, pages):  # type: ignore[no-untyped-def]
    _page_of(pages, benchmark, "/contacts", 50)


def test_a_page_deep_into_the_account(benchmark, pages):  # type: ignore[no-untyped-def]
    page = _page_of(pages, benchmark, f"/contacts?after={pages.last_id // 2}", 50)
    assert 'rel="prev"' in page and 'rel="next"' in page


def test_previous_page_from_the_end(benchmark, pages):  # type: ignore[no-untyped-def]
    _page_of(pages, benchmark, f"/contacts?before={pages.last_id + 1}", 50)


def test_search_by_address(benchmark, pages):  # type: ignore[no-untyped-def]
    page = _page_of(pages, benchmark, f"/contacts?q={pages.middle.email.upper()}")
    assert f'href="/contacts/{pages.middle.id}"' in page


def test_search_by_id(benchmark, pages):  # type: ignore[no-untyped-def]
    page = _page_of(pages, benchmark, f"/contacts?q={pages.middle.value}", 1)
    assert f'href="/contacts/{pages.middle.id}"' in page


def test_bounced_only(benchmark, pages):  # type: ignore[no-untyped-def]
    _page_of(pages, benchmark, "/contacts?status=bounced", 50)


def test_a_contacts_page(benchmark, pages):  # type: ignore[no-untyped-def]
    page = _page_of(pages, benchmark, f"/contacts/{pages.middle.id}")
    assert pages.middle.value in page
