"""What every schema shares: strict input, safe keys, and the contract's rendering of ids and times.

Input is validated before it reaches MongoDB: unknown fields, keys that MongoDB would read as
operators or paths (`$...`, `a.b`) and values of the wrong type are all a 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load

from core.clock import format_timestamp

UNSAFE_KEY_MESSAGE = "Field names may not start with '$' or contain '.'."


def unsafe_keys(data: Any, path: str = "") -> Iterator[str]:
    """Yield the dotted path of every key, at any depth, that starts with `$` or contains `.`."""
    if isinstance(data, dict):
        for key, value in data.items():
            key_text = str(key)
            where = f"{path}.{key_text}" if path else key_text
            if key_text.startswith("$") or "." in key_text:
                yield where
            yield from unsafe_keys(value, where)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from unsafe_keys(item, f"{path}[{index}]")


class StrictSchema(Schema):
    """Base of every input schema: unknown fields and operator-like keys are rejected."""

    class Meta:
        unknown = RAISE

    @pre_load
    def reject_unsafe_keys(self, data: Any, **_kwargs: Any) -> Any:
        bad = list(unsafe_keys(data))
        if bad:
            raise ValidationError({key: [UNSAFE_KEY_MESSAGE] for key in bad})
        return data


class StrictBoolean(fields.Boolean):
    """Only JSON `true` / `false`: no "yes", no 1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class ObjectIdString(fields.Field):
    """Renders an ObjectId as its 24-character hex string (output only)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class Timestamp(fields.Field):
    """Renders a stored datetime as ISO 8601 UTC ending in `Z` (output only)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_timestamp(value)
