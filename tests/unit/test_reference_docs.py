"""docs/reference.md is the OpenAPI document rendered: regenerate it when an endpoint changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_endpoint_reference_matches_the_openapi_document():
    result = subprocess.run(
        [sys.executable, "scripts/api_reference.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
