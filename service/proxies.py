"""The client's address behind reverse proxies: SAFEGUARD_TRUSTED_PROXIES of them add X-Forwarded-For.

Failed sign-ins are also limited per client address (service/web/auth.py). Behind a load balancer
every request comes from the balancer's address, and the failures of anyone would lock out everyone.
Werkzeug's ProxyFix takes the address that the trusted proxies added, never one a client wrote
itself; with no trusted proxy (the default) the header is ignored, so that it cannot be forged.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
