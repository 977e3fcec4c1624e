"""Declared inputs (web/parsing.py): the contract's codes for query strings and JSON bodies."""

from __future__ import annotations

import pytest

from tests.support import TODOS
from web.parsing import MAX_JSON_DEPTH, json_depth


@pytest.fixture
def headers(auth_headers, user):
    return auth_headers(user)


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('"[[[["', 0), ('["\\"]]]"]', 1)],
)
def test_json_depth_counts_nesting_outside_strings(text, depth):
    assert json_depth(text) == depth


@pytest.mark.parametrize("path", [TODOS, "/api/v1/auth/login", "/api/v1/auth/register"])
def test_json_nested_deeper_than_the_limit_is_400(client, headers, path):
    body = "[" * 5000 + "]" * 5000
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_json_at_the_depth_limit_is_parsed(client, headers):
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    body = '{"title": "deep", "tags": ' + nested + "}"
    response = client.post(TODOS, data=body, content_type="application/json", headers=headers)
    # Parsed, then refused by the schema (tags are strings): a 422, not a 400.
    assert response.status_code == 422


@pytest.mark.parametrize("query", ["limit=5&limit=6", "sort=title&sort=due", "q=a&q=b"])
def test_a_single_valued_query_parameter_given_twice_is_400(client, headers, query):
    response = client.get(f"{TODOS}?{query}", headers=headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and set(error["details"]) <= {"limit", "sort", "q"}


def test_unknown_query_parameters_are_ignored(client, headers):
    assert client.get(f"{TODOS}?colour=blue", headers=headers).status_code == 200


@pytest.mark.parametrize("body", ["", "{", "null x", "\xff"])
def test_unparsable_body_is_400(client, headers, body):
    response = client.post(
        TODOS, data=body.encode("latin-1"), content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
