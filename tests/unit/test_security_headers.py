"""Response hardening: nosniff on every response (so every file carries its exact type), no
referrers, a Content-Security-Policy that lets API responses load nothing and pages load only
this origin's scripts and styles, and no-store on tokens and personal data."""

from __future__ import annotations

import mimetypes
from html.parser import HTMLParser

import pytest

from app import create_app
from tests.support import bearer
from web.security_headers import PRIVATE_ENDPOINTS

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
PASSWORD = "correct horse 1"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".map": "application/json",
}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PROMETHEUS_ENABLED": True, "PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def app(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    return app


class PageParser(HTMLParser):
    """What a page loads, and whatever it would need inline code or styles for."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.assets.extend(values[name] for name in ("src", "href") if values.get(name))
        self.inline.extend(
            f"{tag} {name}" for name in values if name == "style" or name[:2] == "on"
        )
        if tag == "style" or (tag == "script" and not values.get("src")):
            self.inline.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script body")


def docs_page(client) -> PageParser:
    page = PageParser()
    page.feed(client.get("/docs").text)
    return page


def every_kind_of_response(client) -> dict[str, object]:
    responses = {
        "json": client.get("/health"),
        "openapi": client.get("/api/v1/openapi.json"),
        "401": client.get("/api/v1/users/me"),
        "404": client.get("/api/v1/nowhere"),
        "405": client.delete("/health"),
        "415": client.post("/api/v1/auth/login", data="x", content_type="text/plain"),
        "422": client.post("/api/v1/auth/login", json={}),
        "500": client.get("/boom"),
        "metrics": client.get("/metrics"),
        "docs": client.get("/docs"),
        "docs script": client.get("/docs/swagger-initializer.js"),
    }
    for url in docs_page(client).assets:
        responses[url] = client.get(url)
    for response in responses.values():
        response.close()  # static files are streamed from open files; the headers stay
    return responses


def test_every_response_forbids_sniffing(client):
    responses = every_kind_of_response(client)
    assert len(responses) > 12
    for name, response in responses.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name


def test_every_response_sends_no_referrer(client):
    for name, response in every_kind_of_response(client).items():
        assert response.headers.get("Referrer-Policy") == "no-referrer", name


def test_a_rate_limit_refusal_is_hardened_too(app_config):
    client = create_app({**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": 1})
    client = client.test_client()
    client.get("/api/v1/nowhere")
    refused = client.get("/api/v1/nowhere")
    assert refused.status_code == 429
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert refused.headers["Content-Security-Policy"] == API_POLICY


def test_every_docs_asset_carries_its_exact_type(client):
    urls = [*docs_page(client).assets, "/docs/static/swagger-ui-bundle.js.map"]
    assert {url.rsplit(".", 1)[-1] for url in urls} >= {"js", "css", "png", "map"}
    for url in urls:
        with client.get(url) as response:
            assert response.status_code == 200, url
            suffix = "." + url.rsplit(".", 1)[-1]
            assert response.headers["Content-Type"] == ASSET_TYPES[suffix], url


def test_scripts_are_text_javascript_whatever_the_machine_maps_them_to(app_config, monkeypatch):
    # Some machines' /etc/mime.types map .js to application/javascript or x-javascript.
    machine = mimetypes.MimeTypes()
    machine.add_type("application/x-javascript", ".js")
    monkeypatch.setattr(mimetypes, "_db", machine)
    client = create_app(app_config).test_client()
    with client.get("/docs/static/swagger-ui-bundle.js") as response:
        assert response.headers["Content-Type"] == ASSET_TYPES[".js"]


def test_api_responses_may_load_nothing_and_never_be_framed(client):
    for name, response in every_kind_of_response(client).items():
        if response.mimetype != "text/html":
            assert response.headers["Content-Security-Policy"] == API_POLICY, name


def test_the_docs_page_may_load_this_origins_scripts_and_styles_only(client):
    policy = client.get("/docs").headers["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split("; ") if part.strip()
    )
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in policy and "*" not in policy and "http" not in policy


def test_the_docs_page_needs_no_inline_script_or_style(client):
    page = docs_page(client)
    assert page.assets and page.inline == []
    assert all(url.startswith("/docs/") for url in page.assets)


@pytest.fixture
def owner(make_user, client):
    user, password = make_user("owner", password=PASSWORD)
    tokens = client.post("/api/v1/auth/login", json={"username": "owner", "password": password})
    return user, tokens.get_json()


def test_tokens_and_personal_data_are_never_stored(client, owner):
    user, tokens = owner
    access = bearer(tokens["access_token"])
    own = f"/api/v1/users/{user['_id']}"
    responses = {
        "login": client.post(
            "/api/v1/auth/login", json={"username": "owner", "password": PASSWORD}
        ),
        "failed login": client.post(
            "/api/v1/auth/login", json={"username": "owner", "password": "x"}
        ),
        "register": client.post(
            "/api/v1/auth/register",
            json={"username": "newbie", "email": "newbie@example.com", "password": PASSWORD},
        ),
        "refresh": client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])),
        "me": client.get("/api/v1/users/me", headers=access),
        "own profile": client.get(own, headers=access),
        "own patch": client.patch(own, json={"name": "Owen"}, headers=access),
    }
    for name, response in responses.items():
        assert response.status_code < 500, name
        assert response.headers.get("Cache-Control") == "no-store", name
    assert responses["refresh"].status_code == 200 and responses["own patch"].status_code == 200


def test_other_responses_keep_their_own_caching(client, owner):
    access = bearer(owner[1]["access_token"])
    created = client.post("/api/v1/templates", json={"name": "t"}, headers=access).get_json()
    template = client.get(f"/api/v1/templates/{created['templateid']}", headers=access)
    assert template.headers["Cache-Control"] == "private, no-cache"
    assert "Cache-Control" not in client.get("/health").headers


def test_the_private_endpoints_exist(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} >= PRIVATE_ENDPOINTS
