"""Schemas for templates: the writable fields (create, replace, patch), the list's query
arguments, and the template object clients see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.base import NOT_BLANK, StrictSchema, Timestamp, not_blank
from schemas.pagination import PageArgs

NAME_MAX = 200
MAX_QUERY_LENGTH = NAME_MAX


class TemplateInputSchema(StrictSchema):
    """The writable fields. POST and PUT load it whole (`name` required, the rest defaulted by
    the store); PATCH loads it with `partial=True` and needs at least one field."""

    # The PATCH body's `minProperties` in the OpenAPI document: what `something_to_change` checks.
    patch_min_properties = 1

    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=NAME_MAX), not_blank],
        metadata=NOT_BLANK,
    )
    description = fields.String(validate=validate.Length(max=2000))
    content = fields.String(validate=validate.Length(max=100_000))

    @validates_schema
    def something_to_change(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if kwargs.get("partial") and not data:
            raise ValidationError("Send at least one of: name, description, content.")


class CreatorSchema(Schema):
    """Who created a template: a user, or a machine client's API key (its public id only)."""

    type = fields.String(metadata={"enum": ["user", "api_key"]})
    id = fields.String(metadata={"description": "User id, or the API key's public id"})
    username = fields.String(metadata={"description": "When type is user"})
    owner = fields.String(metadata={"description": "When type is api_key: whom it was issued to"})


class TemplateSchema(Schema):
    """The template object of the contract."""

    templateid = fields.String(metadata={"format": "uuid"})
    name = fields.String()
    description = fields.String()
    content = fields.String()
    created = Timestamp()
    modified = Timestamp()
    created_by = fields.Nested(CreatorSchema)


template_schema = TemplateSchema()


def render_template_object(template: Mapping[str, Any]) -> dict[str, Any]:
    return template_schema.dump(template)


class TemplateListArgs(PageArgs):
    """The filter of `GET /templates`: `q`, a case-insensitive name prefix."""

    name_prefix = fields.String(
        data_key="q",
        load_default="",
        validate=validate.Length(max=MAX_QUERY_LENGTH),
        metadata={"description": "Case-insensitive prefix of the name"},
    )
