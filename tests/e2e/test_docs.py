"""/docs and /api/v1/openapi.json from the app under uwsgi: Swagger UI and every file it loads
come from this server, and the document it shows is a valid OpenAPI 3 document."""

from __future__ import annotations

from html.parser import HTMLParser

import requests
from openapi_spec_validator import validate

from tests.servers import LiveServer


class AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)


def test_docs_page_and_its_assets_are_served_by_the_app(
    live_server: LiveServer, http: requests.Session
) -> None:
    page = http.get(f"{live_server.url}/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    collector = AssetCollector()
    collector.feed(page.text)
    assert len(collector.urls) >= 4
    for url in collector.urls:
        assert url.startswith("/docs/") and "//" not in url, url
        asset = http.get(live_server.url + url)
        assert asset.status_code == 200, url
        assert len(asset.content) == int(asset.headers["Content-Length"]) > 0, url


def test_openapi_document_is_served_and_valid(
    live_server: LiveServer, http: requests.Session
) -> None:
    response = http.get(f"{live_server.url}/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    validate(response.json())
