"""URL converters: a malformed id never reaches a view, it simply matches no route (404)."""

from __future__ import annotations

from bson import ObjectId
from werkzeug.routing import BaseConverter


class ObjectIdConverter(BaseConverter):
    """`<objectid:todo_id>`: a 24-hex-digit MongoDB id, given to the view as an ObjectId."""

    regex = "[0-9a-fA-F]{24}"

    def to_python(self, value: str) -> ObjectId:
        return ObjectId(value)

    def to_url(self, value: ObjectId | str) -> str:
        return str(value)


class UUID4Converter(BaseConverter):
    """`<uuid4:templateid>`: a UUID4 in its hyphenated form, given to the view in lowercase."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> str:
        return value.lower()
