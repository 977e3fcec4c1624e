"""Compressed responses: gzip for JSON over 1 KiB when the client accepts it, `Vary:
Accept-Encoding` always, and an ETag that names the resource's version whatever the encoding, so
`If-Match` and `If-None-Match` take the tag of a compressed response as of an uncompressed one."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass

import brotli
import pytest

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
BIG_TEXT = "Remember to compress the long descriptions. " * 40  # about 1.8 KB


@dataclass(frozen=True)
class Kind:
    """One resource with ETags: where it lives, a body large enough to compress, its key."""

    collection: str
    big_body: dict
    key: str

    def item(self, created: dict) -> str:
        return f"{self.collection}/{created[self.key]}"


TODOS = Kind("/api/v1/todos", {"title": "Long todo", "description": BIG_TEXT}, "id")
TEMPLATES = Kind("/api/v1/templates", {"name": "Long template", "content": BIG_TEXT}, "templateid")


@pytest.fixture(params=[TODOS, TEMPLATES], ids=["todos", "templates"])
def kind(request) -> Kind:
    return request.param


@pytest.fixture
def headers(user, auth_headers):
    return auth_headers(user)


@pytest.fixture
def resource(client, headers, kind) -> str:
    """The URL of a freshly created, compressible todo or template."""
    response = client.post(kind.collection, json=kind.big_body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return kind.item(response.get_json())


def decoded(response) -> dict:
    """The JSON body of a response, undoing its Content-Encoding."""
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "br":
        body = brotli.decompress(body)
    else:
        assert encoding is None, encoding
    return json.loads(body)


def varies_on_encoding(response) -> bool:
    values = ",".join(response.headers.getlist("Vary")).lower()
    return "accept-encoding" in {value.strip() for value in values.split(",")}


# --- what is compressed ---------------------------------------------------------------------


def test_json_over_1_kib_is_gzipped_for_a_client_that_accepts_it(client, headers, resource):
    plain = client.get(resource, headers={**headers, **IDENTITY})
    compressed = client.get(resource, headers={**headers, **GZIP})
    assert plain.headers.get("Content-Encoding") is None
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert decoded(compressed) == plain.get_json()
    assert int(compressed.headers["Content-Length"]) == len(compressed.get_data())
    assert len(compressed.get_data()) < len(plain.get_data())


def test_without_accept_encoding_nothing_is_compressed(client, headers, resource):
    response = client.get(resource, headers=headers)
    assert response.headers.get("Content-Encoding") is None
    assert response.get_json()["created"].endswith("Z")


def test_gzip_is_chosen_first_when_the_client_accepts_several(client, headers, resource):
    response = client.get(resource, headers={**headers, "Accept-Encoding": "zstd, br, gzip"})
    assert response.headers["Content-Encoding"] == "gzip"


def test_a_brotli_only_client_gets_br(client, headers, resource):
    plain = client.get(resource, headers=headers)
    response = client.get(resource, headers={**headers, "Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert decoded(response) == plain.get_json()


def test_a_zstd_only_client_gets_identity(client, headers, resource):
    response = client.get(resource, headers={**headers, "Accept-Encoding": "zstd"})
    assert response.headers.get("Content-Encoding") is None


def test_json_under_1_kib_is_sent_as_is(client):
    response = client.get("/health", headers=GZIP)
    assert len(response.get_data()) < 1024
    assert response.headers.get("Content-Encoding") is None
    assert varies_on_encoding(response)


def todo_of_size(client, headers, size: int) -> str:
    """The URL of a todo whose uncompressed JSON body is exactly `size` bytes."""
    created = client.post(
        TODOS.collection, json={"title": "t", "description": "d"}, headers=headers
    )
    url = TODOS.item(created.get_json())
    base = len(client.get(url, headers=headers).get_data())
    padded = client.patch(url, json={"description": "d" * (1 + size - base)}, headers=headers)
    assert padded.status_code == 200
    return url


@pytest.mark.parametrize(("size", "compressed"), [(1023, False), (1024, True)])
def test_the_threshold_is_1_kib(client, headers, size, compressed):
    url = todo_of_size(client, headers, size)
    assert len(client.get(url, headers=headers).get_data()) == size
    response = client.get(url, headers={**headers, **GZIP})
    assert (response.headers.get("Content-Encoding") == "gzip") is compressed


def test_html_is_not_compressed(client):
    response = client.get("/docs", headers=GZIP)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers.get("Content-Encoding") is None


def test_errors_are_not_compressed(client, headers):
    response = client.post(
        TODOS.collection, json={"title": "x" * 5000}, headers={**headers, **GZIP}
    )
    assert response.status_code == 422
    assert response.headers.get("Content-Encoding") is None
    assert response.get_json()["error"]["code"] == "validation_error"


def test_every_response_varies_on_accept_encoding(client, headers, resource):
    for response in (
        client.get(resource, headers={**headers, **GZIP}),
        client.get(resource, headers=headers),
        client.get("/api/v1/nothing-here", headers=GZIP),
    ):
        assert varies_on_encoding(response), response.headers


def test_a_created_resource_keeps_location_and_etag_when_compressed(client, headers, kind):
    response = client.post(kind.collection, json=kind.big_body, headers={**headers, **GZIP})
    assert response.status_code == 201
    assert response.headers["Content-Encoding"] == "gzip"
    body = decoded(response)
    assert response.headers["Location"].endswith(kind.item(body))
    assert response.headers["ETag"] == f'"{body[kind.key]}-1"'


# --- the ETag is the version, whatever the encoding -----------------------------------------


def test_the_etag_is_the_same_compressed_or_not(client, headers, resource):
    plain = client.get(resource, headers=headers)
    compressed = client.get(resource, headers={**headers, **GZIP})
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert compressed.headers["ETag"] == plain.headers["ETag"]
    assert ":gzip" not in compressed.headers["ETag"]


# The encoding the ETag was read with, and the encoding of the request that sends it back.
EITHER_WAY = pytest.mark.parametrize(
    ("read_with", "send_with"),
    [(GZIP, IDENTITY), (IDENTITY, GZIP), (GZIP, GZIP)],
    ids=["gzip-tag-plain-request", "plain-tag-gzip-request", "gzip-both"],
)


@EITHER_WAY
def test_if_none_match_accepts_the_tag_of_either_encoding(
    client, headers, resource, read_with, send_with
):
    etag = client.get(resource, headers={**headers, **read_with}).headers["ETag"]
    response = client.get(resource, headers={**headers, **send_with, "If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


@EITHER_WAY
def test_if_match_accepts_the_tag_of_either_encoding(
    client, headers, resource, read_with, send_with
):
    etag = client.get(resource, headers={**headers, **read_with}).headers["ETag"]
    response = client.patch(
        resource,
        json={"description": BIG_TEXT + " edited"},
        headers={**headers, **send_with, "If-Match": etag},
    )
    assert response.status_code == 200, response.get_data()
    assert decoded(response)["description"].endswith(" edited")
    assert response.headers["ETag"] == etag.replace('-1"', '-2"')


def test_a_compressed_stale_tag_is_still_412(client, headers, resource):
    stale = client.get(resource, headers={**headers, **GZIP}).headers["ETag"]
    assert client.patch(resource, json={"description": "first"}, headers=headers).status_code == 200
    response = client.patch(
        resource, json={"description": "second"}, headers={**headers, **GZIP, "If-Match": stale}
    )
    assert response.status_code == 412
    assert response.get_json()["error"]["code"] == "precondition_failed"
