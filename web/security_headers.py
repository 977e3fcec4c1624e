"""Response headers that tell browsers and caches how to treat what the app serves.

- `X-Content-Type-Options: nosniff` on every response: a browser uses the declared type and never
  guesses one, so a JSON body can never run as a script or a page. That is also why the types of
  the files we serve are pinned here rather than taken from the machine's /etc/mime.types.
- `Referrer-Policy: no-referrer`: links from the docs or the web client leak no URLs.
- `Content-Security-Policy`: API responses are data and may load nothing (`default-src 'none'`);
  HTML pages (Swagger UI at /docs, the web client at /) may load scripts, styles, images and data
  from this origin only: no inline code, no other hosts. No page may be framed (clickjacking).
- `Cache-Control: no-store` on the responses that carry tokens or one account's personal data.

A view that needs another policy sets the header itself; these are only defaults.
"""

from __future__ import annotations

import mimetypes

from flask import Flask, Response, request

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons with data: SVGs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
NO_STORE = "no-store"
# Login, refresh and registration answer with tokens or the new account; /users/me and
# /users/<id> (GET, PATCH, DELETE) with one account's profile.
PRIVATE_ENDPOINTS = frozenset({"api.login", "api.refresh", "api.register", "api.me", "api.user"})
# The types browsers must see for the files the app serves (nosniff makes them binding). `.js` is
# `application/javascript` in some /etc/mime.types, and `.map` is in none.
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", "no-referrer")
    is_page = response.mimetype == "text/html"
    headers.setdefault("Content-Security-Policy", PAGE_POLICY if is_page else API_POLICY)
    if request.endpoint in PRIVATE_ENDPOINTS:
        headers["Cache-Control"] = NO_STORE
    return response


def init_app(app: Flask) -> None:
    for extension, mimetype in ASSET_TYPES.items():
        mimetypes.add_type(mimetype, extension)
    app.after_request(add_security_headers)
