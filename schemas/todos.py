"""Schemas for todos: the writable fields (create, replace, patch), the list's query arguments,
and the todo object clients see."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_dump, validate

from schemas.base import (
    NOT_BLANK,
    ObjectIdString,
    StrictBoolean,
    StrictSchema,
    Timestamp,
    not_blank,
)
from schemas.pagination import PageArgs

ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_TAGS = 20
TAG_RULE = validate.Length(min=1, max=30)


class IsoDate(fields.Date):
    """A calendar date written exactly `YYYY-MM-DD` (no times, no compact `YYYYMMDD`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not ISO_DATE.match(value):
            raise ValidationError("Not a valid date: use YYYY-MM-DD.")
        return super()._deserialize(value, attr, data, **kwargs)


class TodoInputSchema(StrictSchema):
    """The writable fields. POST and PUT load it whole (`title` required, the rest defaulted by
    the store); PATCH loads it with `partial=True`."""

    title = fields.String(
        required=True, validate=[validate.Length(min=1, max=200), not_blank], metadata=NOT_BLANK
    )
    description = fields.String(validate=validate.Length(max=2000))
    done = StrictBoolean()
    due = IsoDate(allow_none=True, metadata={"description": "YYYY-MM-DD, or null for no date"})
    tags = fields.List(
        fields.String(validate=TAG_RULE),
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": "Up to 20 tags of 1..30 characters; duplicates are dropped"},
    )


class OwnerSchema(Schema):
    id = ObjectIdString()
    username = fields.String()


class TodoSchema(Schema):
    """The todo object of the contract."""

    id = ObjectIdString(attribute="_id", dump_only=True)
    title = fields.String()
    description = fields.String()
    done = fields.Boolean()
    due = fields.String(allow_none=True, metadata={"format": "date"})
    tags = fields.List(fields.String())
    owner = fields.Nested(OwnerSchema)
    created = Timestamp()
    updated = Timestamp()

    @pre_dump
    def owner_from_stored_fields(self, todo: Mapping[str, Any], **_kwargs: Any) -> dict:
        return {**todo, "owner": {"id": todo["owner_id"], "username": todo["owner_username"]}}


todo_schema = TodoSchema()


def render_todo(todo: Mapping[str, Any]) -> dict[str, Any]:
    return todo_schema.dump(todo)


class BooleanText(fields.Boolean):
    """A query-string boolean written exactly `true` or `false`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false"):
            raise ValidationError("Must be 'true' or 'false'.")
        return value == "true"


class TodoListArgs(PageArgs):
    """The filters of `GET /todos`. Query parameters stay plain strings: a malformed one is a
    400, never an operator."""

    done = BooleanText(metadata={"description": "Only done (`true`) or open (`false`) todos"})
    tags = fields.List(
        fields.String(validate=TAG_RULE),
        data_key="tag",
        load_default=list,
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": "Todos carrying this tag (repeat for all of several)"},
    )
    title_prefix = fields.String(
        data_key="q",
        load_default="",
        metadata={"description": "Case-insensitive prefix of the title"},
    )
