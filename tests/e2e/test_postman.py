"""The Postman collection (postman/collection.json), run by newman against the app under uwsgi,
and held against the OpenAPI document as Postman's own importer (openapi-to-postmanv2) reads it.

newman and openapi-to-postmanv2 are pinned in package.json / package-lock.json and installed into
node_modules by `make test` (scripts/provision_node.sh).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import create_api_key
from tests.servers import REPO_ROOT, on_ci

POSTMAN = REPO_ROOT / "postman"
COLLECTION = POSTMAN / "collection.json"
ENVIRONMENT = POSTMAN / "environment.json"
CONVERTER = POSTMAN / "convert_openapi.js"
NODE_MODULES = REPO_ROOT / "node_modules"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def node_tool(found: str | None, what: str) -> str:
    """The tool's path; skips (fails with CI=true) when `make test` has not installed it."""
    if found and Path(found).is_file():
        return found
    message = f"{what} is missing: run `make test` (scripts/provision_node.sh installs it)"
    if on_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def newman() -> str:
    return node_tool(str(NODE_MODULES / ".bin" / "newman"), "newman")


@pytest.fixture(scope="module")
def node() -> str:
    """node, with openapi-to-postmanv2 installed for the converter script."""
    converter_package = NODE_MODULES / "openapi-to-postmanv2" / "package.json"
    node_tool(str(converter_package), "openapi-to-postmanv2")
    return node_tool(shutil.which("node"), "node")


def requests_of(items: list[dict]) -> Iterator[dict]:
    """Every request item of a collection, folders flattened, in run order."""
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item


def route(segments: list[str]) -> str:
    """A path with its variables blanked, so `/todos/{todo_id}` (OpenAPI), `/todos/:todo_id`
    (the converter) and `/todos/{{todoId}}` (our collection) compare equal."""
    variable = ("{", ":")
    return "/" + "/".join("{}" if s.startswith(variable) else s for s in segments if s)


def operations(collection: dict) -> set[tuple[str, str]]:
    """(METHOD, route) of every request in a Postman collection."""
    return {
        (item["request"]["method"].upper(), route(item["request"]["url"]["path"]))
        for item in requests_of(collection["item"])
    }


def newman_summary(output: str) -> str:
    """The table newman's cli reporter ends with (requests, scripts, assertions run and failed)."""
    start = output.find("┌")
    return output[start:] if start >= 0 else output[-3000:]


def test_every_request_has_its_own_name_and_asserts_its_status():
    items = list(requests_of(json.loads(COLLECTION.read_text())["item"]))
    names = [item["name"] for item in items]
    assert len(set(names)) == len(names), "newman's report tells requests apart by name"
    for item in items:
        tests = [e for e in item.get("event", []) if e["listen"] == "test"]
        script = "\n".join(line for event in tests for line in event["script"]["exec"])
        assert "pm.response.to.have.status(" in script, item["name"]


def test_the_collection_passes_under_newman(live_server, newman, tmp_path, capsys):
    api_key = create_api_key(live_server, "postman")
    report = tmp_path / "newman.json"
    result = subprocess.run(
        [
            newman,
            "run",
            str(COLLECTION),
            "--environment",
            str(ENVIRONMENT),
            "--env-var",
            f"baseUrl={live_server.url}",
            "--env-var",
            f"apiKey={api_key}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--color",
            "off",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    with capsys.disabled():
        print(f"\nnewman run postman/collection.json:\n{newman_summary(result.stdout)}")

    assert report.exists(), result.stdout + result.stderr
    run = json.loads(report.read_text())["run"]
    failures = [
        f"{failure['source'].get('name')}: {failure['error']['message']}"
        for failure in run["failures"]
    ]
    output = result.stdout[-8_000:] + result.stderr
    assert failures == [], "\n".join([*failures, "", output])
    assert result.returncode == 0, output
    # Every request of the collection ran, in order, and asserted something (the executions of a
    # request include those its scripts sent with pm.sendRequest).
    collection = json.loads(COLLECTION.read_text())
    names = [item["name"] for item in requests_of(collection["item"])]
    asserted: dict[str, bool] = {}
    for execution in run["executions"]:
        name = execution["item"]["name"]
        asserted[name] = asserted.get(name, False) or bool(execution.get("assertions"))
    assert list(asserted) == names
    assert [name for name, checked in asserted.items() if not checked] == []
    assert run["stats"]["assertions"]["failed"] == 0
    assert run["stats"]["assertions"]["total"] > 2 * len(names)


def test_every_openapi_operation_is_in_the_collection(live_server, http, node, tmp_path):
    document = http.get(f"{live_server.url}/api/v1/openapi.json")
    assert document.status_code == 200
    source = tmp_path / "openapi.json"
    source.write_bytes(document.content)
    result = subprocess.run(
        [node, str(CONVERTER), str(source)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    converted = operations(json.loads(result.stdout))

    documented = {
        (method.upper(), route(path.split("/")))
        for path, entries in document.json()["paths"].items()
        for method in entries
        if method in HTTP_METHODS
    }
    # The converter turned every documented operation into a request, and nothing else...
    assert converted == documented
    # ...and the hand-written collection walks each of them.
    ours = operations(json.loads(COLLECTION.read_text()))
    assert sorted(converted - ours) == []
