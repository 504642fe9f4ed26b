"""What the page tests share: a form's CSRF token, and a test client signed in as a new user."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from service.domain.users import create_user
from service.models import Account

PASSWORD = "a long secret"


def csrf_token(response: Any) -> str:
    """The CSRF token of the (first) form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


def signed_in(app: Flask, engine: Engine, account_id: int, email: str, *,
              is_admin: bool = False) -> FlaskClient:
    """A new user of the account, signed in through the sign-in form, as a test client."""
    with Session(engine) as session:
        create_user(session, account=session.get(Account, account_id), email=email, password=PASSWORD,
                    is_admin=is_admin)
    client = app.test_client()
    response = client.post("/sign-in", data={"email": email, "password": PASSWORD,
                                             "csrf_token": csrf_token(client.get("/sign-in"))})
    assert response.status_code == 302
    return client


def wizard_draft(client: FlaskClient, content: bytes, filename: str = "w.csv") -> tuple[str, str]:
    """Upload a file to the import wizard as a signed-in client; return (the draft's URL base,
    the form token), ready for its steps (`{base}/file`, `/options`, ...)."""
    import io

    token = csrf_token(client.get("/imports/new"))
    draft = client.post("/imports/new", data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
                        content_type="multipart/form-data").headers["Location"]
    return draft.rsplit("/", 1)[0], token
