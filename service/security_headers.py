"""Headers on every response, pages and API alike, that keep a browser from being turned on us.

The pages load their one script and stylesheet from /static and have no inline script (the
builder's catalog is a JSON data block, which is never run), so the policy allows 'self' only;
images may also be `data:` (the page icon). No page may be framed (clickjacking), and no
download sniffed into something executable.
"""

from __future__ import annotations

from flask import Flask, Response

HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
