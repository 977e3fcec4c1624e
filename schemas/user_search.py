"""The query string of `GET /users` besides pagination: `q`, the search prefix.

Query parameters are plain strings and a bad one is a 400 `bad_request` (not a 422: there is no
body), with the field's messages in `details`.
"""

from __future__ import annotations

import unicodedata

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from core.text import normalise_query
from errors import ApiError

Q_MAX_LENGTH = 100


def no_control_characters(value: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError("Must not contain control characters.")


class UserSearchArgs(Schema):
    """`q`: a case-insensitive prefix of a username or of a word of a name (taken literally)."""

    class Meta:
        # The pagination arguments are read by pagination.parse_page_request.
        unknown = EXCLUDE

    q = fields.String(
        validate=[validate.Length(max=Q_MAX_LENGTH), no_control_characters],
        metadata={"description": "Prefix of a username or of any word of a name"},
    )


user_search_args = UserSearchArgs()


def parse_user_search(args: MultiDict[str, str]) -> str | None:
    """The normalised `q` of a `GET /users` query string, None when absent or blank (400 if bad)."""
    values = args.getlist("q")
    if len(values) > 1:
        raise ApiError(400, "bad_request", "Give 'q' at most once.", {"q": ["given twice"]})
    try:
        loaded = user_search_args.load({"q": values[0]} if values else {})
    except ValidationError as error:
        raise ApiError(
            400, "bad_request", "Invalid query parameter 'q'.", error.messages
        ) from error
    q = normalise_query(loaded.get("q", ""))
    return q or None
