"""Declared request inputs: JSON bodies and query strings, loaded by webargs with marshmallow
schemas.

A resource method declares what it reads with `@use_body(Schema())` or `@use_query(Schema)`; the
declaration also feeds the OpenAPI document (web/openapi.py), so the docs cannot drift from the
validation. Errors keep the contract's codes: a query parameter that does not validate is a 400
`bad_request` (there is no body to be unprocessable), an unknown one is ignored; a body that is
not JSON is a 415, unparsable JSON a 400, and a body that does not validate a 422
`validation_error` with per-field details.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Request, request
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy

from errors import ApiError

# Deeper JSON than this is refused before it is parsed: the contract's documents nest a few
# levels, and a parser recursing 5,000 levels down would raise instead of answering.
MAX_JSON_DEPTH = 64
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
JSON_BRACKET = re.compile(r"[\[\]{}]")
DECLARED_INPUTS = "__declared_inputs__"

NOT_JSON = "The request body is not valid JSON."


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings don't count)."""
    depth = deepest = 0
    for bracket in JSON_BRACKET.findall(JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def require_json_bodies() -> None:
    """Before every request: a body sent with any other content type is a 415, whatever the route."""
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if has_body and not request.is_json:
        raise ApiError(415)


class ApiParser(FlaskParser):
    """webargs' Flask parser, answering in the contract's codes and error shape."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        if not req.is_json:
            raise ApiError(415)
        try:
            text = req.get_data(cache=True).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ApiError(400, "bad_request", NOT_JSON) from error
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ApiError(
                400, "bad_request", f"The request body nests deeper than {MAX_JSON_DEPTH} levels."
            )
        try:
            return json.loads(text)
        except ValueError as error:
            raise ApiError(400, "bad_request", NOT_JSON) from error

    def load_querystring(self, req: Request, schema: Schema) -> MultiDictProxy:
        """The query string; a parameter that takes one value but is given twice is a 400."""
        single_valued = [
            field.data_key or name
            for name, field in schema.fields.items()
            if not self._is_multiple(field)
        ]
        repeated = {
            name: ["Give it at most once."]
            for name in single_valued
            if len(req.args.getlist(name)) > 1
        }
        if repeated:
            raise ValidationError(repeated)
        return super().load_querystring(req, schema)

    def _is_multiple(self, field: Any) -> bool:
        return isinstance(field, tuple(self.KNOWN_MULTI_FIELDS))

    def handle_error(
        self,
        error: ValidationError,
        req: Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ):
        messages = error.messages
        location = next(iter(messages)) if isinstance(messages, dict) and messages else "json"
        details = messages.get(location, messages) if isinstance(messages, dict) else messages
        if not isinstance(details, dict):
            details = {"_schema": details}
        if location == "json":
            raise ValidationError(details) from error
        names = ", ".join(f"'{name}'" for name in details if name != "_schema")
        message = f"Invalid query parameter {names}." if names else str(details["_schema"][0])
        raise ApiError(400, "bad_request", message, details) from error


parser = ApiParser()


def _declared(location: str, schema: Schema | type[Schema]) -> Callable:
    use_args = parser.use_args(schema, location=location)

    def decorator(method: Callable) -> Callable:
        wrapped = use_args(method)
        declared = [*getattr(method, DECLARED_INPUTS, []), (location, schema)]
        setattr(wrapped, DECLARED_INPUTS, declared)
        return wrapped

    return decorator


def use_body(schema: Schema | type[Schema]) -> Callable:
    """Load the JSON body with `schema`; the loaded dict is passed to the method."""
    return _declared("json", schema)


def use_query(schema: Schema | type[Schema]) -> Callable:
    """Load the query string with `schema`; the loaded dict is passed to the method."""
    return _declared("query", schema)


def declared_inputs(method: Callable) -> list[tuple[str, Schema | type[Schema]]]:
    """What a resource method declared with `use_body` / `use_query`, innermost first."""
    return getattr(method, DECLARED_INPUTS, [])
