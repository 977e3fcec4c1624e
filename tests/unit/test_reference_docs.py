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


def test_the_guide_lists_every_error_code_the_app_renders():
    from errors import CODES

    guide = (ROOT / "docs" / "guide.md").read_text()
    codes = {*CODES.values(), "invalid_token", "token_expired", "token_revoked"}
    codes |= {"invalid_credentials", "page_window_exceeded", "request_in_progress"}
    codes |= {"idempotency_key_reused", "invalid_reset_token", "invalid_verification_token"}
    codes |= {"email_not_verified"}
    missing = sorted(code for code in codes if f"`{code}`" not in guide)
    assert missing == []
