"""The Dockerfile as the tests read it: parsed with dockerfile-parse, final (runtime) stage
first-class. Shared by the static checks (tests/unit) and the e2e test that runs the image's
HEALTHCHECK command against a real server."""

from __future__ import annotations

import json
from functools import cache

from dockerfile_parse import DockerfileParser

from tests.servers import REPO_ROOT


@cache
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(REPO_ROOT / "Dockerfile"))


def final_stage() -> list[dict]:
    structure = dockerfile().structure
    last_from = max(i for i, item in enumerate(structure) if item["instruction"] == "FROM")
    return structure[last_from:]


def instructions(stage: list[dict], name: str) -> list[str]:
    return [item["value"] for item in stage if item["instruction"] == name]


def healthcheck_command() -> list[str]:
    (healthcheck,) = instructions(final_stage(), "HEALTHCHECK")
    return json.loads(healthcheck.split("CMD", 1)[1])
