"""The OpenAPI document at /api/v1/openapi.json and Swagger UI at /docs: every route documented,
every reference resolvable, a valid OpenAPI 3 document, and docs served without any CDN."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser
from typing import Any

import pytest
from apispec.exceptions import APISpecError
from flask import jsonify
from openapi_spec_validator import validate

from schemas.templates import TemplateInputSchema
from schemas.todos import TodoInputSchema
from schemas.user_search import UserSearchArgs
from web import openapi

OPENAPI_JSON = "/api/v1/openapi.json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
COMMON_RESPONSES = (
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "ValidationError",
    "RateLimited",
    "PreconditionFailed",
    "ServiceUnavailable",
)


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get(OPENAPI_JSON)
    assert response.status_code == 200
    return response.get_json()


def documented_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") or rule.rule in ("/health", "/ready")
    ]


def openapi_path(rule) -> str:
    return openapi.RULE_VARIABLE.sub(lambda match: "{" + match["name"] + "}", rule.rule)


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve_pointer(document: dict, ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are expected, got {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def test_openapi_json_is_served_as_json(client):
    response = client.get(OPENAPI_JSON)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["openapi"].startswith("3.")


def test_document_validates_as_openapi_3(document):
    validate(document)


def test_every_api_route_is_documented_with_each_of_its_methods(app, document):
    rules = documented_rules(app)
    assert len(rules) > 5
    for rule in rules:
        path = openapi_path(rule)
        assert path in document["paths"], f"{rule.rule} is not documented"
        documented = {m.upper() for m in document["paths"][path] if m != "parameters"}
        assert documented == rule.methods - IGNORED_METHODS, path


def test_every_reference_resolves(document):
    found = list(refs(document))
    assert found
    for ref in found:
        resolve_pointer(document, ref)


@pytest.mark.parametrize(
    ("collection", "item", "parameter", "field", "name"),
    [
        ("/api/v1/todos", "/api/v1/todos/{todo_id}", "todo_id", "id", "Todo"),
        (
            "/api/v1/templates",
            "/api/v1/templates/{templateid}",
            "templateid",
            "templateid",
            "Template",
        ),
    ],
)
def test_a_create_links_to_every_operation_on_the_created_item(
    document, collection, item, parameter, field, name
):
    links = document["paths"][collection]["post"]["responses"]["201"]["links"]
    methods = {m for m in document["paths"][item] if m != "parameters"}
    assert set(links) == {f"{method.capitalize()}{name}" for method in methods}
    for method in methods:
        link = links[f"{method.capitalize()}{name}"]
        assert resolve_pointer(document, link["operationRef"]) is document["paths"][item][method]
        expected = {f"path.{parameter}": f"$response.body#/{field}"}
        if method != "get":
            expected["header.If-Match"] = "$response.header.ETag"
        assert link["parameters"] == expected


def test_every_operation_has_a_summary_and_a_success_response(document):
    for path, method, operation in operations(document):
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        statuses = [code for code in operation["responses"] if code[0] in "23"]
        assert statuses, f"{method.upper()} {path} documents no success response"


def test_every_operation_documents_other_errors_in_the_error_shape(document):
    for _path, _method, operation in operations(document):
        assert operation["responses"]["default"] == {"$ref": "#/components/responses/Error"}


def test_json_bodies_name_a_schema(document):
    for path, method, operation in operations(document):
        bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
        for body in bodies:
            body = resolve_pointer(document, body["$ref"]) if "$ref" in body else body
            media = body.get("content", {}).get("application/json")
            if media is not None:
                assert media.get("schema"), f"{method.upper()} {path}: JSON body without schema"


def test_request_and_response_bodies_come_from_the_marshmallow_schemas(document):
    register = document["paths"]["/api/v1/auth/register"]["post"]
    body_ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = resolve_pointer(document, body_ref)
    assert {"username", "email", "password"} <= set(body["required"])
    assert body["properties"]["password"]["minLength"] == 8
    created = register["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    user = resolve_pointer(document, created)
    assert user["properties"]["id"]["type"] == "string"
    assert user["properties"]["created"] == {"type": "string", "format": "date-time"}
    assert "password" not in user["properties"]


def test_list_bodies_are_documented_as_page_envelopes(document):
    listing = document["paths"]["/api/v1/todos"]["get"]
    ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = resolve_pointer(document, ref)
    assert set(page["required"]) == {"items", "meta", "links"}
    item = resolve_pointer(document, page["properties"]["items"]["items"]["$ref"])
    assert "title" in item["properties"]
    meta = resolve_pointer(document, page["properties"]["meta"]["$ref"])
    assert {"limit", "next_cursor", "page", "per_page", "total"} <= set(meta["properties"])


# Rules the validators check that the document did not state, found by schema fuzzing
# (tests/e2e/test_schemathesis.py, positive_data_acceptance): each is stated now, and what the
# document states agrees with what the schema accepts.


@pytest.mark.parametrize("schema", ["Register", "UserUpdate", "ForgotPassword"])
def test_emails_are_documented_as_emails(document, schema):
    email = document["components"]["schemas"][schema]["properties"]["email"]
    assert email["format"] == "email"


@pytest.mark.parametrize(
    ("schema", "field", "loader"),
    [("TodoInput", "title", TodoInputSchema), ("TemplateInput", "name", TemplateInputSchema)],
)
def test_titles_and_names_are_documented_as_not_blank(document, schema, field, loader):
    pattern = re.compile(document["components"]["schemas"][schema]["properties"][field]["pattern"])
    for value, accepted in (("   ", False), ("\u2003\t", False), (" a ", True), ("x", True)):
        assert bool(pattern.search(value)) is accepted, value
        assert (field not in loader().validate({field: value})) is accepted, value


def test_a_template_patch_is_documented_as_needing_a_field(document, client, auth_headers, user):
    assert document["components"]["schemas"]["TemplatePatch"]["minProperties"] == 1
    assert "minProperties" not in document["components"]["schemas"]["TodoPatch"]
    headers = auth_headers(user)
    created = client.post("/api/v1/templates", json={"name": "T"}, headers=headers).get_json()
    empty = client.patch(f"/api/v1/templates/{created['templateid']}", json={}, headers=headers)
    assert empty.status_code == 422


def test_the_user_search_is_documented_without_control_characters(document):
    (q,) = [p for p in document["paths"]["/api/v1/users"]["get"]["parameters"] if p["name"] == "q"]
    pattern = re.compile(q["schema"]["pattern"])
    controls = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]
    for char in controls:
        assert not pattern.fullmatch(f"a{char}b"), hex(ord(char))
        assert "q" in UserSearchArgs().validate({"q": f"a{char}b"}), hex(ord(char))
    assert pattern.fullmatch("Zoë Ñ-1") and "q" not in UserSearchArgs().validate({"q": "Zoë Ñ-1"})


@pytest.mark.parametrize(
    ("path", "schema"),
    [("/api/v1/todos/{todo_id}", "TodoPatch"), ("/api/v1/templates/{templateid}", "TemplatePatch")],
)
def test_patch_bodies_require_no_field_while_create_bodies_do(document, path, schema):
    body = document["paths"][path]["patch"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": f"#/components/schemas/{schema}"}
    assert "required" not in document["components"]["schemas"][schema]
    put = document["paths"][path]["put"]["requestBody"]["content"]["application/json"]
    put_schema = document["components"]["schemas"][put["schema"]["$ref"].rsplit("/", 1)[1]]
    assert put_schema["required"]


def test_objectid_converter_becomes_a_string_path_parameter(document):
    parameters = document["paths"]["/api/v1/todos/{todo_id}"]["parameters"]
    assert parameters == [
        {
            "in": "path",
            "name": "todo_id",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"},
        }
    ]


def test_uuid4_converter_becomes_a_string_path_parameter(app, client):
    def thing(thing_id):
        """---
        get:
          summary: A thing
          responses: {200: {description: The thing}}
        """

    app.add_url_rule("/api/v1/things/<uuid4:thing_id>", view_func=thing)
    document = client.get(OPENAPI_JSON).get_json()
    assert document["paths"]["/api/v1/things/{thing_id}"]["parameters"] == [
        {
            "in": "path",
            "name": "thing_id",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
    ]


def test_common_error_responses_have_the_error_shape(document):
    responses = document["components"]["responses"]
    for name in COMMON_RESPONSES:
        media = responses[name]["content"]["application/json"]
        assert media["schema"] == {"$ref": "#/components/schemas/Error"}, name
        assert set(media["example"]["error"]) == {"code", "message"}
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = resolve_pointer(document, error["properties"]["error"]["$ref"])
    assert set(body["properties"]) == {"code", "message", "details"}
    assert set(body["required"]) == {"code", "message"}


def test_rate_limited_response_documents_its_headers(document):
    headers = document["components"]["responses"]["RateLimited"]["headers"]
    assert set(headers) == {
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }


def test_security_schemes_are_jwt_bearer_and_api_key_header(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "X-API-KEY"}


def test_probes_are_documented(document):
    assert "200" in document["paths"]["/health"]["get"]["responses"]
    ready = document["paths"]["/ready"]["get"]["responses"]
    assert ready["503"] == {"$ref": "#/components/responses/ServiceUnavailable"}


def test_a_new_route_is_documented_from_its_docstring(app, client):
    def extra():
        """An endpoint this module has never heard of.
        ---
        get:
          summary: Something new
          responses:
            200: {description: A user, content: {application/json: {schema: UserSchema}}}
        """
        return jsonify({})

    app.add_url_rule("/api/v1/extra/<objectid:thing_id>", view_func=extra)
    document = client.get(OPENAPI_JSON).get_json()
    operation = document["paths"]["/api/v1/extra/{thing_id}"]["get"]
    assert operation["summary"] == "Something new"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/User"}


def test_an_unknown_schema_name_fails_the_build(app):
    def broken():
        """---
        get:
          responses:
            200: {description: Nothing, content: {application/json: {schema: NoSuchSchema}}}
        """

    app.add_url_rule("/api/v1/broken", view_func=broken)
    with pytest.raises(APISpecError, match="NoSuchSchema"):
        openapi.build_openapi(app)


def test_document_is_built_once_per_process(client, monkeypatch):
    builds = []
    build = openapi.build_openapi

    def counting_build(app):
        builds.append(app)
        return build(app)

    monkeypatch.setattr(openapi, "build_openapi", counting_build)
    first = client.get(OPENAPI_JSON).get_json()
    second = client.get(OPENAPI_JSON).get_json()
    assert len(builds) == 1
    assert first == second


@pytest.mark.parametrize("path", [OPENAPI_JSON, "/docs"])
def test_docs_are_exempt_from_rate_limits(app_config, path):
    from app import create_app

    client = create_app(
        {**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": 2}
    ).test_client()
    statuses = [client.get(path).status_code for _ in range(5)]
    assert statuses == [200] * 5


class AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_docs_page_is_html(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert '<div id="swagger-ui">' in response.text


def test_docs_page_loads_only_local_assets_that_exist(client):
    collector = AssetCollector()
    collector.feed(client.get("/docs").text)
    assert len(collector.urls) >= 4
    for url in collector.urls:
        assert url.startswith("/docs/") and "//" not in url, url
        with client.get(url) as response:
            assert response.status_code == 200, url


def test_swagger_ui_points_at_this_apis_document_and_nowhere_else(client):
    script = client.get("/docs/swagger-initializer.js")
    assert script.mimetype == "text/javascript"
    assert f'url: "{OPENAPI_JSON}"' in script.text
    assert "validatorUrl: null" in script.text
    assert "http://" not in script.text and "https://" not in script.text


def test_swagger_ui_assets_are_served_with_their_types(client):
    with client.get("/docs/static/swagger-ui-bundle.js") as script:
        assert script.mimetype == "text/javascript"
    with client.get("/docs/static/swagger-ui.css") as style:
        assert style.mimetype == "text/css"


def test_unknown_docs_asset_is_404_in_error_shape(client):
    response = client.get("/docs/static/no-such-file.js")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def query_parameter(document, path: str, name: str) -> dict[str, Any]:
    parameters = document["paths"][path]["get"]["parameters"]
    return next(p for p in parameters if p["in"] == "query" and p["name"] == name)


@pytest.mark.parametrize(
    ("path", "store_sorts"),
    [
        ("/api/v1/todos", "stores.todos:SORTS"),
        ("/api/v1/todos", "stores.todos:SORTS_WITH_PREFIX"),
        ("/api/v1/templates", "stores.templates:SORTS"),
        ("/api/v1/users", "stores.user_search:USER_SORTS"),
        ("/api/v1/users", "stores.user_search:SEARCH_SORTS"),
    ],
)
def test_every_sort_the_store_accepts_is_the_documented_enum(document, path, store_sorts):
    import importlib

    module, name = store_sorts.split(":")
    sorts = getattr(importlib.import_module(module), name)
    assert query_parameter(document, path, "sort")["schema"]["enum"] == list(sorts)


@pytest.mark.parametrize("path", ["/api/v1/todos", "/api/v1/templates", "/api/v1/users"])
def test_list_endpoints_document_both_pagination_modes_from_one_schema(document, path):
    for name in ("limit", "cursor", "page", "per_page"):
        assert query_parameter(document, path, name)["required"] is False
    assert query_parameter(document, path, "limit")["schema"]["maximum"] == 100


@pytest.mark.parametrize(
    ("path", "method", "schema"),
    [
        ("/api/v1/todos", "post", "TodoInput"),
        ("/api/v1/todos/{todo_id}", "put", "TodoInput"),
        ("/api/v1/todos/{todo_id}", "patch", "TodoPatch"),
        ("/api/v1/templates/{templateid}", "patch", "TemplatePatch"),
        ("/api/v1/auth/register", "post", "Register"),
        ("/api/v1/users/{user_id}", "patch", "UserUpdate"),
    ],
)
def test_request_bodies_are_the_schemas_the_views_load(document, path, method, schema):
    body = document["paths"][path][method]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{schema}"
    }
