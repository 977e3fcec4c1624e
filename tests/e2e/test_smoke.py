"""The app under uwsgi over real HTTP: error shape on every status, request ids, probes."""

from __future__ import annotations

import pytest
import requests

from core.version import __version__
from tests.e2e.helpers import API, bearer, register


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.text


def test_health_and_ready(live_server, http):
    # /health reports the running release (issue 13).
    assert http.get(f"{live_server.url}/health").json() == {"status": "ok", "version": __version__}
    assert http.get(f"{live_server.url}/ready").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/no/such/route", {}, 404, "not_found"),
        ("delete", f"{API}/auth/register", {}, 405, "method_not_allowed"),
        (
            "post",
            f"{API}/auth/register",
            {"data": "{oops", "headers": {"Content-Type": "application/json"}},
            400,
            "bad_request",
        ),
        (
            "post",
            f"{API}/auth/register",
            {"data": "a=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "unsupported_media_type",
        ),
        ("post", f"{API}/auth/register", {"json": {"username": 5}}, 422, "validation_error"),
        (
            "post",
            f"{API}/auth/register",
            {"data": "x" * (1024 * 1024 + 1), "headers": {"Content-Type": "application/json"}},
            413,
            "payload_too_large",
        ),
        ("get", f"{API}/users/me", {}, 401, "unauthorized"),
        ("get", f"{API}/users/me", {"headers": bearer("a.b.c")}, 401, "invalid_token"),
        (
            "post",
            f"{API}/auth/login",
            {"json": {"username": "ghost", "password": "nope-nope"}},
            401,
            "invalid_credentials",
        ),
    ],
)
def test_error_shape_over_http(live_server, http, method, path, kwargs, status, code):
    assert_error(getattr(http, method)(f"{live_server.url}{path}", **kwargs), status, code)


def test_conflict_and_forbidden_over_http(live_server, http):
    first = register(http, live_server)
    second = register(http, live_server)
    again = {
        "username": first["username"].upper(),
        "email": "x@example.com",
        "password": "password-123",
    }
    assert_error(http.post(f"{live_server.url}{API}/auth/register", json=again), 409, "conflict")
    token = http.post(
        f"{live_server.url}{API}/auth/login",
        json={"username": first["username"], "password": "password-123"},
    ).json()["access_token"]
    response = http.patch(
        f"{live_server.url}{API}/users/{second['id']}", json={"name": "x"}, headers=bearer(token)
    )
    assert_error(response, 403, "forbidden")


def test_request_id_is_echoed_or_generated(live_server, http):
    assert (
        http.get(f"{live_server.url}/health", headers={"X-Request-ID": "e2e-42"}).headers[
            "X-Request-ID"
        ]
        == "e2e-42"
    )
    generated = http.get(f"{live_server.url}/no/such").headers["X-Request-ID"]
    assert len(generated) == 32


def test_one_json_log_line_per_request(live_server, http):
    http.get(f"{live_server.url}/health", headers={"X-Request-ID": "find-me-in-the-log"})
    lines = [line for line in live_server.log_text().splitlines() if "find-me-in-the-log" in line]
    assert len(lines) == 1 and '"status": 200' in lines[0] and '"path": "/health"' in lines[0]
