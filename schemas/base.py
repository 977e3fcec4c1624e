"""What every schema shares: strict input, safe keys, and the contract's rendering of ids and times.

Input is validated before it reaches MongoDB: unknown fields, keys that MongoDB would read as
operators or paths (`$...`, `a.b`), text BSON cannot store and values of the wrong type are all a
422.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load

from core.clock import format_timestamp

UNSAFE_KEY_MESSAGE = "Field names may not start with '$' or contain '.'."
BROKEN_TEXT_MESSAGE = "Not valid Unicode text (e.g. a lone surrogate)."


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


# What not_blank checks, for the OpenAPI document: a character that is not white space.
NOT_BLANK = {"pattern": r"\S"}


def is_valid_text(text: str) -> bool:
    """False for strings a JSON escape can carry but BSON cannot store (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def input_problems(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (dotted path, message) for every key, at any depth, that MongoDB would read as an
    operator or a path (`$...`, `a.b`), and every key or string that is not valid Unicode."""
    if isinstance(data, dict):
        for key, value in data.items():
            key_text = str(key)
            where = f"{path}.{key_text}" if path else key_text
            if not is_valid_text(key_text):
                yield where.encode("utf-8", "backslashreplace").decode(), BROKEN_TEXT_MESSAGE
            elif key_text.startswith("$") or "." in key_text:
                yield where, UNSAFE_KEY_MESSAGE
            yield from input_problems(value, where)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from input_problems(item, f"{path}[{index}]")
    elif isinstance(data, str) and not is_valid_text(data):
        yield path or "_schema", BROKEN_TEXT_MESSAGE


class StrictSchema(Schema):
    """Base of every input schema: unknown fields, operator-like keys and text that is not valid
    Unicode are rejected (422, naming the field)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def reject_unsafe_input(self, data: Any, **_kwargs: Any) -> Any:
        problems = dict(input_problems(data))
        if problems:
            raise ValidationError({where: [message] for where, message in problems.items()})
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
