"""The OpenAPI 3 document (`/api/v1/openapi.json`) and Swagger UI to read it (`/docs`).

The document is generated, never written by hand: every route under /api/v1, plus /health and
/ready, is documented from its view's docstring (apispec YAML after a `---` line: summary, tags,
responses), its query parameters and request body from what the view declared with
`web.parsing.use_query` / `use_body`, and the bodies a docstring names (`schema: TodoSchema`)
from the marshmallow schemas that validate and render them, so the docs cannot drift from the
code. A new resource is documented by its own
docstrings without touching this module. The document is built once per process, on first use.

Swagger UI is served from the `swagger-ui-bundle` package's files: no CDN, nothing fetched from
elsewhere.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from apispec import APISpec, BasePlugin
from apispec.exceptions import APISpecError
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow import resolver as schema_component_name
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, Response, current_app, jsonify, send_from_directory, url_for
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path
from werkzeug.routing import Rule

import schemas
from core.version import __version__
from errors import CODES, MESSAGES
from extensions import limiter
from schemas.base import ObjectIdString, Timestamp
from web import API_PREFIX
from web.parsing import declared_inputs

API_TITLE = "Flask API"
# 3.0 rather than 3.1: what Swagger UI 4 and most client generators read fully.
OPENAPI_VERSION = "3.0.3"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
# Root endpoints documented besides /api/v1 (/metrics and /docs are for operators, not clients).
DOCUMENTED_ROOT_PATHS = ("/health", "/ready")
# `schema: XPage` in a docstring names the list envelope of `XSchema` items (see page_envelope).
PAGE_SUFFIX = "Page"
# `schema: XPatch` names `XInputSchema` with every field optional, as PATCH loads it.
PATCH_SUFFIX = "Patch"
DOCS_STATIC_MAX_AGE = 3600

# Werkzeug rule variables: `<name>`, `<converter:name>`, `<converter(args):name>`.
RULE_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "objectid": {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"},
    "uuid4": {"type": "string", "format": "uuid"},
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
}

# Reusable responses, by the names the resources' docstrings use: name -> status.
ERROR_RESPONSES = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "Conflict": 409,
    "PreconditionFailed": 412,
    "PayloadTooLarge": 413,
    "UnsupportedMediaType": 415,
    "ValidationError": 422,
    "RateLimited": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}
RATE_LIMIT_HEADERS = {
    "Retry-After": "Seconds to wait before retrying",
    "X-RateLimit-Limit": "Requests allowed in the current window",
    "X-RateLimit-Remaining": "Requests left in the current window",
    "X-RateLimit-Reset": "When the window resets (Unix time)",
}
# Operations that take an `Idempotency-Key` (marked by resources/idempotency.py) document the
# header and, in place of their own 409 and 422, these responses naming both codes each may carry.
IDEMPOTENCY_KEY_DECLARED = "__idempotency_key__"
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": (
        "1-255 visible ASCII characters, new for each object to create. Retrying with the same "
        "key and an equal JSON body within 24 hours replays the first response "
        "(`Idempotent-Replayed: true`) and creates nothing."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
IDEMPOTENCY_RESPONSES = {
    409: (
        "IdempotentConflict",
        "request_in_progress",
        "The first request with this Idempotency-Key is still running; retry in Retry-After seconds.",
    ),
    422: (
        "IdempotentValidationError",
        "idempotency_key_reused",
        "This Idempotency-Key was first used with another request body.",
    ),
}
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True, metadata={"example": "Not found."})
    details = fields.Dict(
        metadata={
            "description": "Per-field messages (validation) or what failed (e.g. `unavailable`)"
        }
    )


class ErrorSchema(Schema):
    """The one error shape of the API."""

    error = fields.Nested(ErrorBodySchema, required=True)


class PageMetaSchema(Schema):
    limit = fields.Integer(required=True)
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "null on the last page"}
    )
    page = fields.Integer(metadata={"description": "Page mode only"})
    per_page = fields.Integer(metadata={"description": "Page mode only"})
    total = fields.Integer(metadata={"description": "Page mode only"})


class PageLinksSchema(Schema):
    self = fields.String(required=True)
    next = fields.String(metadata={"description": "Absent on the last page"})


def documented_schemas() -> dict[str, type[Schema]]:
    """Every marshmallow schema a docstring may name: those of the `schemas` package and this
    module's own, by class name. A name defined twice is refused rather than guessed."""
    modules = [importlib.import_module(__name__)]
    for info in pkgutil.iter_modules(schemas.__path__, f"{schemas.__name__}."):
        modules.append(importlib.import_module(info.name))
    found: dict[str, type[Schema]] = {}
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Schema)
                and value.__module__ == module.__name__
            ):
                if value.__name__ in found and found[value.__name__] is not value:
                    raise APISpecError(f"two schemas are named {value.__name__}")
                found[value.__name__] = value
    return found


class DeclaredInputsPlugin(BasePlugin):
    """Documents what each operation's code already says, so docstrings hold only summaries,
    descriptions and the responses particular to the operation:

    - query parameters and the JSON body from what the view method declared (web/parsing.py);
    - the error responses that follow from them: 400 for a query string, 422 for a body, 401 when
      the operation needs credentials, 404 when its path names a resource;
    - conditional requests (web/conditional.py): an operation that can answer 412 takes
      `If-Match`, one that can answer 304 takes `If-None-Match`, and both send an `ETag`.
    """

    def operation_helper(self, path=None, operations=None, view=None, **kwargs: Any) -> None:
        view_class = getattr(view, "view_class", None)
        for method, operation in (operations or {}).items():
            if view_class is not None:
                self.declared(operation, getattr(view_class, method, None))
                self.from_resource(operation, method, view_class)
            operation.setdefault("tags", [path_tag(path or "")])
            derived_responses(operation, has_path_parameters="{" in (path or ""))
            conditional_headers(operation)

    @staticmethod
    def from_resource(operation: dict[str, Any], method: str, view_class: type) -> None:
        """A summary from the docstring's first line and a description from the paragraph
        after it; the 200 of a GET, PUT or PATCH from the resource's `item_schema`; the security
        its guard decorator documents (`openapi_security` on the decorator); 304 / 412 when the
        resource is `conditional`."""
        prose = inspect.getdoc(getattr(view_class, method)) or ""
        prose = prose.split("---")[0].strip()
        if prose and "summary" not in operation:
            summary, _, description = prose.partition("\n\n")
            operation["summary"] = summary.rstrip(".")
            if description:
                operation.setdefault("description", " ".join(description.split()))
        for decorator in getattr(view_class, "method_decorators", []):
            if hasattr(decorator, "openapi_security"):
                operation.setdefault("security", decorator.openapi_security)
        item_schema = getattr(view_class, "item_schema", None)
        if item_schema and method in ("get", "put", "patch"):
            operation.setdefault("responses", {}).setdefault(
                200,
                {
                    "description": f"The {item_schema.removesuffix('Schema').lower()}",
                    "content": {"application/json": {"schema": item_schema}},
                },
            )
        if getattr(view_class, "conditional", False):
            responses = operation.setdefault("responses", {})
            if method == "get":
                responses.setdefault(304, {"description": "Not modified since the ETag given"})
            elif method in ("put", "patch", "delete"):
                responses.setdefault(412, error_ref("PreconditionFailed"))

    @staticmethod
    def declared(operation: dict[str, Any], method: Any) -> None:
        for location, schema in declared_inputs(method):
            if location == "query":
                operation.setdefault("parameters", []).append({"in": "query", "schema": schema})
            else:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": body_schema_name(schema)}},
                }


def path_tag(path: str) -> str:
    """The tag an operation is grouped by: the first segment of its path under the API prefix."""
    return path.removeprefix(API_PREFIX).strip("/").split("/")[0] or "operations"


def error_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def derived_responses(operation: dict[str, Any], has_path_parameters: bool) -> None:
    responses = operation.setdefault("responses", {})
    takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    for applies, status, name in (
        (takes_query, 400, "BadRequest"),
        ("security" in operation, 401, "Unauthorized"),
        (has_path_parameters, 404, "NotFound"),
        ("requestBody" in operation, 422, "ValidationError"),
    ):
        if applies and status not in responses and str(status) not in responses:
            responses[status] = error_ref(name)
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))


ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The resource's version"}}


def conditional_headers(operation: dict[str, Any]) -> None:
    responses = operation.get("responses", {})
    statuses = {str(status) for status in responses}
    parameters = operation.get("parameters", [])
    for status, header in (("412", "If-Match"), ("304", "If-None-Match")):
        named = any(isinstance(p, dict) and p.get("name") == header for p in parameters)
        if status in statuses and not named:
            parameters.append({"in": "header", "name": header, "schema": {"type": "string"}})
    if parameters:
        operation["parameters"] = parameters
    if statuses & {"412", "304"}:
        for status, response in responses.items():
            if str(status).startswith("2") and "content" in response:
                response.setdefault("headers", {}).update(ETAG_HEADER)


def body_schema_name(schema: Schema | type[Schema]) -> str:
    """The name a request body is documented by: its schema class, or `XPatch` for the
    `XInputSchema` a PATCH loads with every field optional."""
    name = schema.__name__ if isinstance(schema, type) else type(schema).__name__
    if getattr(schema, "partial", False):
        return name.removesuffix("InputSchema") + PATCH_SUFFIX
    return name


class SchemaNamesPlugin(BasePlugin):
    """Resolves the schema names in docstrings (`schema: UserSchema`) to the schema classes,
    before the MarshmallowPlugin renders them, so that an unknown name fails the build instead of
    leaving a dangling `$ref`. `XPage` names the paginated list of `XSchema` items."""

    def __init__(self, known: dict[str, type[Schema]], marshmallow: MarshmallowPlugin) -> None:
        super().__init__()
        self.known = known
        self.marshmallow = marshmallow

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        self.components = spec.components

    def operation_helper(self, path=None, operations=None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            self._resolve(operation, f"{method.upper()} {path}")

    def _resolve(self, node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._resolve(item, where)
        elif isinstance(node, dict):
            for key, value in node.items():
                names_a_schema = key == "schema" or (key == "items" and node.get("type") == "array")
                if names_a_schema and isinstance(value, str):
                    node[key] = self._schema_for(value, where)
                elif key not in ("example", "examples"):
                    self._resolve(value, where)

    def _schema_for(self, name: str, where: str) -> Any:
        if name in self.known:
            return self.known[name]
        item_name = name.removesuffix(PAGE_SUFFIX) + "Schema"
        if name.endswith(PAGE_SUFFIX) and item_name in self.known:
            return self.page_envelope(name, self.known[item_name])
        input_name = name.removesuffix(PATCH_SUFFIX) + "InputSchema"
        if name.endswith(PATCH_SUFFIX) and input_name in self.known:
            return self.patch_body(name, self.known[input_name])
        raise APISpecError(f"{where}: unknown schema {name!r} (define it in the schemas package)")

    def patch_body(self, name: str, input_schema: type[Schema]) -> dict[str, str]:
        """A PATCH body: the input schema with every field optional (loaded `partial=True`), and
        the `minProperties` the schema asks for (`patch_min_properties`), if any."""
        if name not in self.components.schemas:
            minimum = getattr(input_schema, "patch_min_properties", 0)
            extra = {"minProperties": minimum} if minimum else None
            self.components.schema(name, extra, schema=input_schema(partial=True))
        return {"$ref": f"#/components/schemas/{name}"}

    def page_envelope(self, name: str, item_schema: type[Schema]) -> dict[str, str]:
        """A list endpoint's body: `{items: [...], meta: {...}, links: {...}}` (pagination.py)."""
        if name not in self.components.schemas:
            ref = self.marshmallow.converter.resolve_nested_schema
            self.components.schema(
                name,
                {
                    "type": "object",
                    "required": ["items", "meta", "links"],
                    "properties": {
                        "items": {"type": "array", "items": ref(item_schema)},
                        "meta": ref(PageMetaSchema),
                        "links": ref(PageLinksSchema),
                    },
                },
            )
        return {"$ref": f"#/components/schemas/{name}"}


def error_response_component(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": MESSAGES[status],
        "content": {
            "application/json": {
                "schema": ErrorSchema,
                "example": {"error": {"code": CODES[status], "message": MESSAGES[status]}},
            }
        },
    }
    if status == 429:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "integer"}}
            for name, text in RATE_LIMIT_HEADERS.items()
        }
    elif status == 503:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


@dataclass(frozen=True)
class Creates:
    """Set as `creates` on a collection resource whose POST makes an item served at `endpoint`:
    the document then links that 201 to every operation on the item (OpenAPI links), passing the
    new item's `id_field` as the path parameter and its ETag as `If-Match`, as a client goes on
    from a create (and as a stateful fuzzer walks the API)."""

    endpoint: str
    id_field: str


class CreatedItemLinksPlugin(BasePlugin):
    """Documents the links from a create's 201 to the created item's operations (`Creates`)."""

    def operation_helper(self, path=None, operations=None, view=None, **kwargs: Any) -> None:
        creates = getattr(getattr(view, "view_class", None), "creates", None)
        responses = (operations or {}).get("post", {}).get("responses", {})
        created = responses.get(201) or responses.get("201")
        if creates is None or created is None:
            return
        app = kwargs["app"]
        rule = next(app.url_map.iter_rules(creates.endpoint))
        (parameter,) = rule.arguments
        item_path = RULE_VARIABLE.sub(lambda match: "{" + match["name"] + "}", rule.rule)
        pointer = item_path.replace("~", "~0").replace("/", "~1")
        item_name = app.view_functions[creates.endpoint].view_class.__name__
        links = created.setdefault("links", {})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            parameters = {f"path.{parameter}": f"$response.body#/{creates.id_field}"}
            if method in ("PUT", "PATCH", "DELETE"):
                parameters["header.If-Match"] = "$response.header.ETag"
            links[f"{method.capitalize()}{item_name}"] = {
                "operationRef": f"#/paths/{pointer}/{method.lower()}",
                "parameters": parameters,
            }


def declare_idempotency_key(method: Callable) -> Callable:
    """Mark a resource method as taking an `Idempotency-Key` header, for the document."""
    setattr(method, IDEMPOTENCY_KEY_DECLARED, True)
    return method


class IdempotencyKeyPlugin(BasePlugin):
    """Documents the `Idempotency-Key` header of the operations that take it, and their 409 and
    422 (after DeclaredInputsPlugin, whose 422 it replaces by one naming both codes)."""

    def operation_helper(self, path=None, operations=None, view=None, **kwargs: Any) -> None:
        view_class = getattr(view, "view_class", None)
        for method, operation in (operations or {}).items():
            if getattr(getattr(view_class, method, None), IDEMPOTENCY_KEY_DECLARED, False):
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
                responses = operation.setdefault("responses", {})
                for status, (name, _code, _meaning) in IDEMPOTENCY_RESPONSES.items():
                    responses[status] = {"$ref": f"#/components/responses/{name}"}


def idempotent_response_component(status: int, code: str, meaning: str) -> dict[str, Any]:
    """A status's usual error, or the one an `Idempotency-Key` causes: both as examples."""
    response = error_response_component(status)
    response["description"] = (
        f"{MESSAGES[status]} With an Idempotency-Key, also `{code}`: {meaning}"
    )
    content = response["content"]["application/json"]
    content["examples"] = {
        CODES[status]: {"value": content.pop("example")},
        code: {"value": {"error": {"code": code, "message": meaning}}},
    }
    if status == 409:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


def path_parameters(rule: Rule) -> list[dict[str, Any]]:
    """The rule's variables as OpenAPI path parameters (`<objectid:todo_id>` -> `{todo_id}`)."""
    return [
        {
            "in": "path",
            "name": match["name"],
            "required": True,
            "schema": dict(CONVERTER_SCHEMAS.get(match["converter"] or "", {"type": "string"})),
        }
        for match in RULE_VARIABLE.finditer(rule.rule)
    ]


def documented_rules(app: Flask) -> Iterator[Rule]:
    """The routes the document describes: the API's and the root probes."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{API_PREFIX}/") or rule.rule in DOCUMENTED_ROOT_PATHS:
            yield rule


def build_openapi(app: Flask) -> dict[str, Any]:
    """Build the document from the app's URL map and its views' docstrings."""
    marshmallow_plugin = MarshmallowPlugin(schema_name_resolver=schema_component_name)
    spec = APISpec(
        title=API_TITLE,
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[
            FlaskPlugin(),
            DeclaredInputsPlugin(),
            IdempotencyKeyPlugin(),
            CreatedItemLinksPlugin(),
            SchemaNamesPlugin(documented_schemas(), marshmallow_plugin),
            marshmallow_plugin,
        ],
        info={
            "description": (
                "Users, todos and templates. Every error has the shape "
                '`{"error": {"code", "message", "details"?}}`.'
            )
        },
    )
    marshmallow_plugin.map_to_openapi_type(ObjectIdString, "string", None)
    marshmallow_plugin.map_to_openapi_type(Timestamp, "string", "date-time")

    components = spec.components
    for name, scheme in SECURITY_SCHEMES.items():
        components.security_scheme(name, scheme)
    components.schema(schema_component_name(ErrorSchema), schema=ErrorSchema)
    for name, status in ERROR_RESPONSES.items():
        components.response(name, error_response_component(status))
    for status, (name, code, meaning) in IDEMPOTENCY_RESPONSES.items():
        components.response(name, idempotent_response_component(status, code, meaning))
    components.response(
        "Error",
        {
            "description": "Any other error, in the same shape",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
    )

    for rule in documented_rules(app):
        spec.path(view=app.view_functions[rule.endpoint], app=app, parameters=path_parameters(rule))
    document = spec.to_dict()
    # Whatever an operation lists, any request may also meet a 405, 413, 415, 429, 500 or 503:
    # always in the one error shape.
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if method != "parameters":
                operation.setdefault("responses", {}).setdefault(
                    "default", {"$ref": "#/components/responses/Error"}
                )
    return document


_build_lock = threading.Lock()


def openapi_document(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use and kept for the life of the process."""
    document = app.extensions.get("openapi")
    if document is None:
        with _build_lock:
            document = app.extensions.get("openapi")
            if document is None:
                document = app.extensions["openapi"] = build_openapi(app)
    return document


docs = Blueprint("openapi", __name__)
# Docs are static for a process: no reason to spend anyone's request budget on them.
limiter.exempt(docs)


@docs.get(OPENAPI_PATH)
def openapi_json():
    """The OpenAPI document.
    ---
    get:
      summary: This API's OpenAPI 3 document
      tags: [operations]
      responses:
        200:
          description: The document
          content: {application/json: {schema: {type: object}}}
    """
    return jsonify(openapi_document(current_app))


SWAGGER_UI_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>{title} - API docs</title>
    <link rel="stylesheet" type="text/css" href="{static}/swagger-ui.css">
    <link rel="icon" type="image/png" href="{static}/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{static}/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="{static}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="{initializer}" charset="UTF-8"></script>
  </body>
</html>
"""

# validatorUrl null: Swagger UI would otherwise send the document to swagger.io for a badge.
SWAGGER_UI_INITIALIZER = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: %s,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
"""


@docs.get("/docs")
def swagger_ui():
    """Swagger UI on this API's document."""
    static = url_for("openapi.swagger_ui_static", filename="").rstrip("/")
    page = SWAGGER_UI_PAGE.format(
        title=API_TITLE, static=static, initializer=url_for("openapi.swagger_ui_initializer")
    )
    return Response(page, mimetype="text/html")


@docs.get("/docs/swagger-initializer.js")
def swagger_ui_initializer():
    """Swagger UI's start-up script, pointed at this API's document (a file, not an inline
    script, so a strict Content-Security-Policy can forbid inline scripts)."""
    script = SWAGGER_UI_INITIALIZER % current_app.json.dumps(url_for("openapi.openapi_json"))
    return Response(script, mimetype="text/javascript")


@docs.get("/docs/static/<path:filename>")
def swagger_ui_static(filename: str):
    """Swagger UI's files, from the pinned swagger-ui-bundle package."""
    return send_from_directory(swagger_ui_path, filename, max_age=DOCS_STATIC_MAX_AGE)


def init_app(app: Flask) -> None:
    app.register_blueprint(docs)
