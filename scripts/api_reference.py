"""Write docs/reference.md, the endpoint reference, from the app's own OpenAPI document.

    python scripts/api_reference.py          # rewrite docs/reference.md
    python scripts/api_reference.py --check  # exit 1 if it is out of date (the tests do this)

The document is generated from the code (web/openapi.py), so this page cannot drift from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REFERENCE = ROOT / "docs" / "reference.md"
METHODS = ("get", "post", "put", "patch", "delete")
HEADER = """# API reference

Generated from `/api/v1/openapi.json` by `scripts/api_reference.py`; do not edit by hand. The
guide to flows, errors, limits and pagination is [guide.md](guide.md).
"""


def openapi_document() -> dict[str, Any]:
    from app import create_app

    app = create_app({"APP_ENV": "testing", "PROMETHEUS_ENABLED": False})
    return app.test_client().get("/api/v1/openapi.json").get_json()


def schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[1]}`"
    if schema.get("type") == "array":
        return f"array of {schema_name(schema.get('items', {}))}"
    return f"`{schema.get('type', 'object')}`"


def parameter_line(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    facts = [schema_name(schema)]
    if "enum" in schema:
        facts.append("one of " + ", ".join(f"`{value}`" for value in schema["enum"]))
    if "default" in schema and schema["default"] != "":
        facts.append(f"default `{schema['default']}`")
    for bound, word in (("minimum", "min"), ("maximum", "max"), ("maxLength", "max length")):
        if bound in schema:
            facts.append(f"{word} {schema[bound]}")
    required = " (required)" if parameter.get("required") else ""
    description = f": {parameter['description']}" if parameter.get("description") else ""
    return (
        f"- `{parameter['name']}` in {parameter['in']}{required}, {'; '.join(facts)}{description}"
    )


def operation_section(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", "", operation.get("summary", ""), ""]
    security = operation.get("security")
    if security:
        schemes = " or ".join(name for requirement in security for name in requirement)
        lines += [f"Auth: {schemes}.", ""]
    parameters = [p for p in operation.get("parameters", []) if p["in"] != "path"]
    if parameters:
        lines += ["Parameters:", "", *map(parameter_line, parameters), ""]
    body = operation.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        lines += [f"Body: {schema_name(schema)}.", ""]
    lines += ["| status | meaning |", "|---|---|"]
    for status, response in operation.get("responses", {}).items():
        if "$ref" in response:
            meaning = f"error: `{response['$ref'].rsplit('/', 1)[1]}`"
        else:
            meaning = response.get("description", "")
            content = response.get("content", {}).get("application/json")
            if content:
                meaning += f" ({schema_name(content['schema'])})"
        lines.append(f"| {status} | {meaning} |")
    return [*lines, ""]


def schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### `{name}`", ""]
    required = set(schema.get("required", []))
    for field, spec in schema.get("properties", {}).items():
        mark = " (required)" if field in required else ""
        note = f": {spec['description']}" if spec.get("description") else ""
        lines.append(f"- `{field}`{mark}, {schema_name(spec)}{note}")
    return [*lines, ""]


def render(document: dict[str, Any]) -> str:
    lines = [HEADER, f"Version {document['info']['version']}.", "", "## Endpoints", ""]
    for path, operations in document["paths"].items():
        for method in METHODS:
            if method in operations:
                lines += operation_section(path, method, operations[method])
    lines += ["## Schemas", ""]
    for name, schema in document["components"]["schemas"].items():
        lines += schema_section(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    text = render(openapi_document())
    if args.check:
        current = REFERENCE.read_text() if REFERENCE.exists() else ""
        if current != text:
            print(f"{REFERENCE.relative_to(ROOT)} is out of date: run scripts/api_reference.py")
            return 1
        return 0
    REFERENCE.write_text(text)
    print(f"wrote {REFERENCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
