"""Conditional requests (RFC 9110): ETags built from a stored write counter, and `If-Match`.

A resource's ETag is `"<key>-<version>"`, where `version` counts the document's writes: no hashing
of bodies, and an `If-Match` turns into a set of versions that the write's own MongoDB filter
requires.
"""

from __future__ import annotations

import re

from flask import Response, request

VERSION = re.compile(r"^[0-9]{1,18}$")


def etag_value(key: object, version: int) -> str:
    """The opaque-tag (unquoted) of a document's ETag: changes with every write."""
    return f"{key}-{version}"


def if_match_versions(key: object) -> set[int] | None:
    """The versions of the document `key` that `If-Match` accepts; None when any will do.

    None without the header or with `If-Match: *` (any existing document). Only strong tags
    count (RFC 9110 compares If-Match strongly); tags of other documents or of no known shape
    match nothing, which ends in a 412. (An empty tag, `""`, comes out of werkzeug's parser as
    None: it matches nothing too.)
    """
    if "If-Match" not in request.headers or request.if_match.star_tag:
        return None
    prefix = f"{key}-"
    return {
        int(tag[len(prefix) :])
        for tag in request.if_match.as_set()
        if tag and tag.startswith(prefix) and VERSION.match(tag[len(prefix) :])
    }


def not_modified(etag: str) -> bool:
    """True when the client's `If-None-Match` already names this ETag (weak comparison)."""
    return request.if_none_match.contains_weak(etag)


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """A bodiless answer (204, 304): no JSON `null`, no content type."""
    response = Response(status=status, headers=headers)
    response.headers.pop("Content-Type", None)
    return response
