"""Abusive input on every endpoint that takes a body or a query string: never a 500.

The table is the OpenAPI document itself, so a new endpoint is covered as soon as it declares its
inputs: JSON nested 5,000 deep is a 400, a lone surrogate in any string field a 422 naming the
field, and broken text in a query string is answered without a 500.
"""

from __future__ import annotations

import json
import uuid

import pytest

from app import create_app
from db import ensure_indexes, get_db
from tests.unit.conftest import UNIT_CONFIG

SAMPLE_IDS = {"todo_id": "0123456789abcdef01234567", "user_id": "0123456789abcdef01234567"}
DEEP = "[" * 5000 + "]" * 5000


def documented_operations() -> list[tuple[str, str, dict]]:
    app = create_app(dict(UNIT_CONFIG))
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((path, method, operation))
    return found, document


OPERATIONS, DOCUMENT = documented_operations()


def concrete(path: str) -> str:
    ids = {**SAMPLE_IDS, "templateid": str(uuid.uuid4())}
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def body_string_fields(operation: dict) -> list[str]:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return [name for name, spec in schema["properties"].items() if spec.get("type") == "string"]


WITH_BODY = [(p, m, o) for p, m, o in OPERATIONS if "requestBody" in o]
WITH_QUERY = [
    (p, m, o) for p, m, o in OPERATIONS if any(q["in"] == "query" for q in o.get("parameters", []))
]


@pytest.fixture
def client(app, make_user, auth_headers):
    with app.app_context():
        ensure_indexes(get_db())
    user, _ = make_user(role="admin")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = auth_headers(user)["Authorization"]
    return client


def test_the_table_covers_bodies_and_query_strings():
    assert {(p, m) for p, m, _ in WITH_BODY} >= {
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/register", "post"),
        ("/api/v1/todos", "post"),
        ("/api/v1/templates/{templateid}", "patch"),
        ("/api/v1/users/{user_id}", "patch"),
    }
    assert {p for p, _, _ in WITH_QUERY} >= {"/api/v1/todos", "/api/v1/templates", "/api/v1/users"}


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=lambda v: str(v)[:40])
def test_deeply_nested_json_is_400(client, path, method, operation):
    response = client.open(
        concrete(path), method=method, data=DEEP, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=lambda v: str(v)[:40])
def test_a_lone_surrogate_in_any_string_field_is_422_naming_it(client, path, method, operation):
    for field in body_string_fields(operation):
        body = json.dumps({field: "\ud800x"})
        response = client.open(
            concrete(path), method=method, data=body, content_type="application/json"
        )
        assert response.status_code == 422, (field, response.get_json())
        assert field in response.get_json()["error"]["details"]


@pytest.mark.parametrize(("path", "method", "operation"), WITH_QUERY, ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF%FE", "%00", "%F0%9F%98%80" * 60, "[$ne]=1"])
def test_broken_text_in_a_query_string_is_never_a_500(client, path, method, operation, raw):
    for parameter in operation["parameters"]:
        if parameter["in"] == "query":
            response = client.open(f"{concrete(path)}?{parameter['name']}={raw}", method=method)
            assert response.status_code in (200, 400), (parameter["name"], response.get_json())
            if response.status_code == 400:
                assert response.get_json()["error"]["code"] == "bad_request"


def test_login_refuses_abuse_without_a_token(app):
    client = app.test_client()
    deep = client.post("/api/v1/auth/login", data=DEEP, content_type="application/json")
    assert deep.status_code == 400
    broken = client.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": "\udfffbob", "password": "x" * 8}),
        content_type="application/json",
    )
    assert broken.status_code == 422 and "username" in broken.get_json()["error"]["details"]
