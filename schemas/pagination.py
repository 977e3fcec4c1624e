"""The query arguments every list endpoint shares: `sort`, and `limit`/`cursor` (cursor mode) or
`page`/`per_page` (page mode).

A list endpoint's argument schema subclasses `PageArgs` with its filters, and `sortable` adds the
`sort` choices from the store's own SORTS mapping, so the allowed values, the validation and the
OpenAPI enum are one list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PAGE = 999_999
PAGE_MODE = frozenset({"page", "per_page"})
CURSOR_MODE = frozenset({"limit", "cursor"})


class WholeNumber(fields.Integer):
    """A query-string number written as plain digits ("+5", " 5", "5.0" and "1e3" are refused)."""

    DIGITS = re.compile(r"^[0-9]{1,6}$")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not self.DIGITS.match(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def number_from(low: int, high: int) -> validate.Range:
    return validate.Range(low, high, error=f"Must be a whole number from {low} to {high}.")


class PageArgs(Schema):
    """`limit`/`cursor` or `page`/`per_page`, never both (400 otherwise)."""

    limit = WholeNumber(
        validate=number_from(1, MAX_LIMIT),
        metadata={"description": "Cursor mode: items per page", "default": DEFAULT_LIMIT},
    )
    cursor = fields.String(
        metadata={"description": "Cursor mode: `meta.next_cursor` of the previous page"}
    )
    page = WholeNumber(
        validate=number_from(1, MAX_PAGE), metadata={"description": "Page mode: page number"}
    )
    per_page = WholeNumber(
        validate=number_from(1, MAX_LIMIT),
        metadata={"description": "Page mode: items per page", "default": DEFAULT_LIMIT},
    )

    @validates_schema
    def one_mode(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if PAGE_MODE & data.keys() and CURSOR_MODE & data.keys():
            raise ValidationError("Use either 'page'/'per_page' or 'limit'/'cursor', not both.")


def sortable(base: type[PageArgs], sorts: Iterable[str], default: str) -> type[PageArgs]:
    """`base` with a `sort` argument that takes one of `sorts` (the store's SORTS keys)."""
    choices = list(sorts)
    sort = fields.String(
        load_default=default,
        validate=validate.OneOf(choices, error=f"Must be one of: {', '.join(choices)}."),
        metadata={"description": "Sort order; `-` for descending"},
    )
    return base.from_dict({"sort": sort}, name=base.__name__)
