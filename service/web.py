"""The web pages for campaign managers (for now: the front page)."""

from __future__ import annotations

from flask import Blueprint, render_template_string

web = Blueprint("web", __name__)

FRONT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mailing safeguard</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;line-height:1.5;color:#222}
code{background:#f3f3f3;padding:0 .3em}</style></head>
<body><h1>Mailing safeguard</h1>
<p>The service is running. It imports contacts with deduplication by e-mail address or external ID,
and makes sure one address never gets the same mailing twice.</p>
<ul><li>API: <code>/api/v1</code>, with <code>Authorization: Bearer &lt;key&gt;</code></li>
<li>API description: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></li></ul>
</body></html>"""


@web.get("/")
def front_page():  # type: ignore[no-untyped-def]
    return render_template_string(FRONT_PAGE)
