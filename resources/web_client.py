"""The web client: its page at `/` and its assets under `/static/`, served from `static/`.

Only `/` itself is the page (no catch-all), so every other unknown path stays a JSON 404. Each
asset is sent with the type its suffix names here rather than one guessed from the machine's
`mime.types`: with `X-Content-Type-Options: nosniff` a browser refuses a module script or a
stylesheet whose type is off, and an asset of any other kind is simply not served (404).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from flask import Blueprint, send_from_directory

from errors import ApiError
from extensions import limiter

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_PREFIX = "/static"
PAGE = "index.html"
ASSET_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}

web_client = Blueprint("web_client", __name__)
# Loading the page must not spend the API budget the client needs for its own requests.
limiter.exempt(web_client)


@web_client.get("/")
def page():
    """The single page of the web client."""
    return send_from_directory(STATIC_DIR, PAGE, mimetype="text/html")


@web_client.get(f"{STATIC_PREFIX}/<path:filename>")
def asset(filename: str):
    """A script, stylesheet or icon of the web client, with its exact Content-Type."""
    mimetype = ASSET_TYPES.get(PurePosixPath(filename).suffix)
    if mimetype is None:
        raise ApiError(404)
    # send_from_directory refuses paths that leave the folder (a 404 like any missing file).
    return send_from_directory(STATIC_DIR, filename, mimetype=mimetype)
