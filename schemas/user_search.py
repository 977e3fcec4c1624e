"""The query string of `GET /users`: `q`, the search prefix, besides sorting and pagination.

Query parameters are plain strings and a bad one is a 400 `bad_request` (not a 422: there is no
body), with the field's messages in `details`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from core.text import normalise_query
from schemas.pagination import PageArgs

Q_MAX_LENGTH = 100


NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def no_control_characters(value: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError("Must not contain control characters.")


class UserSearchArgs(PageArgs):
    """`q`: a case-insensitive prefix of a username or of a word of a name (taken literally)."""

    q = fields.String(
        validate=[validate.Length(max=Q_MAX_LENGTH), no_control_characters],
        metadata={
            "description": "Prefix of a username or of any word of a name",
            # What no_control_characters checks (Unicode category Cc), for the document.
            "pattern": NO_CONTROL_CHARACTERS,
        },
    )

    @post_load
    def normalised_q(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """`q` as it is compared (core.text.normalise_query); None when absent or blank."""
        data["q"] = normalise_query(data.get("q", "")) or None
        return data
