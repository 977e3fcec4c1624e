"""Property-based checks of the read endpoints against the live server's own OpenAPI document
(schemathesis): whatever path ids and query parameters the document allows, no 5xx, and every
error comes in the one shape."""

from __future__ import annotations

import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.transport import Response

from tests.servers import LiveServer

MAX_EXAMPLES = 20

# Readiness answers 503 by design when a dependency is down; it is covered elsewhere.
EXCLUDED_PATHS = ("/ready",)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def auth_headers(live_server: LiveServer) -> dict[str, str]:
    """A user's token, so that the generated requests get past authentication."""
    username = f"fuzz{uuid.uuid4().hex[:8]}"
    credentials = {"username": username, "password": "correct horse 1"}
    registered = requests.post(
        f"{live_server.url}/api/v1/auth/register",
        json={**credentials, "email": f"{username}@example.com"},
        timeout=15,
    )
    assert registered.status_code == 201, registered.text
    login = requests.post(f"{live_server.url}/api/v1/auth/login", json=credentials, timeout=15)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def check_error_shape(response: Response) -> None:
    seen = f"{response.request.method} {response.request.url} -> {response.status_code}"
    assert response.status_code < 500, f"{seen}: {response.text}"
    if response.status_code >= 400:
        # schemathesis' Response: header names in lowercase, each with a list of values.
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), f"{seen} {response.headers}"
        error = response.json()["error"]
        assert set(error) <= {"code", "message", "details"}, f"{seen}: {error}"
        assert isinstance(error["code"], str), f"{seen}: {error}"
        assert isinstance(error["message"], str), f"{seen}: {error}"


def test_reads_never_fail_with_5xx_and_errors_have_the_shape(
    live_server: LiveServer, auth_headers: dict[str, str]
) -> None:
    # One hypothesis run per operation and mode, driven here rather than by schemathesis' pytest
    # plugin (`from_fixture(...).parametrize()`), which reads an attribute pytest 9 removed.
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    operations = [
        result.ok()
        for result in schema.include(method="GET").get_all_operations()
        if result.ok().path not in EXCLUDED_PATHS
    ]
    assert len(operations) >= 6
    for operation in operations:
        # Invalid input needs something to be invalid: an operation without parameters has none.
        has_parameters = any(True for _ in operation.iter_parameters())
        for mode in MODES if has_parameters else (GenerationMode.POSITIVE,):

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                response = case.call(base_url=live_server.url, headers=auth_headers, timeout=15)
                check_error_shape(response)

            call()
