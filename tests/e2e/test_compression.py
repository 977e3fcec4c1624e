"""Compression under uwsgi over real HTTP: a 100-user directory page travels gzipped, and the
ETag of a compressed todo or template works in `If-None-Match` and `If-Match` exactly as the
ETag of an uncompressed one, in both directions."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.e2e.helpers import API, bearer, login, register

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
BIG_TEXT = "A description long enough to be worth compressing. " * 30  # 1.5 KB


@pytest.fixture(scope="module")
def seeded_server(live_server):
    result = live_server.flask("users", "seed", "--count", "100", "--seed", "12")
    assert result.returncode == 0, result.stderr
    return live_server


@pytest.fixture
def headers(http, live_server) -> dict[str, str]:
    return bearer(login(http, live_server, register(http, live_server))["access_token"])


def raw_get(http, url: str, headers: dict[str, str]):
    """A GET whose body is kept as it came over the wire (requests would decode gzip)."""
    response = http.get(url, headers=headers, stream=True)
    response.wire = response.raw.read(decode_content=False)
    return response


def test_a_100_user_page_is_gzipped(http, seeded_server, headers):
    url = f"{seeded_server.url}{API}/users?limit=100"
    plain = raw_get(http, url, {**headers, **IDENTITY})
    compressed = raw_get(http, url, {**headers, **GZIP})
    assert plain.status_code == compressed.status_code == 200
    assert plain.headers.get("Content-Encoding") is None
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert "accept-encoding" in compressed.headers["Vary"].lower()
    assert int(compressed.headers["Content-Length"]) == len(compressed.wire)
    page = json.loads(gzip.decompress(compressed.wire))
    assert len(page["items"]) == 100
    assert page == json.loads(plain.wire)
    assert len(compressed.wire) < len(plain.wire)


@pytest.fixture(params=["todos", "templates"])
def resource(request, http, live_server, headers) -> str:
    """The URL of a new todo or template large enough to be compressed."""
    body = {"title": "Long todo", "description": BIG_TEXT}
    key = "id"
    if request.param == "templates":
        body, key = {"name": "Long template", "content": BIG_TEXT}, "templateid"
    response = http.post(f"{live_server.url}{API}/{request.param}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return f"{live_server.url}{API}/{request.param}/{response.json()[key]}"


@pytest.mark.parametrize(
    ("read_with", "send_with"), [(GZIP, IDENTITY), (IDENTITY, GZIP)], ids=["gzip-tag", "plain-tag"]
)
def test_the_etag_of_either_encoding_works_in_both_conditionals(
    http, headers, resource, read_with, send_with
):
    read = http.get(resource, headers={**headers, **read_with})
    assert read.status_code == 200
    assert read.headers.get("Content-Encoding") == ("gzip" if read_with is GZIP else None)
    etag = read.headers["ETag"]

    unchanged = http.get(resource, headers={**headers, **send_with, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    edited = http.patch(
        resource,
        json={"description": BIG_TEXT + " (edited)"},
        headers={**headers, **send_with, "If-Match": etag},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["description"].endswith("(edited)")
    assert edited.headers["ETag"] == etag.replace('-1"', '-2"')

    stale = http.patch(
        resource, json={"description": "late"}, headers={**headers, **send_with, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
