"""Error reporting to Sentry, on only when SENTRY_DSN is set.

errors.py answers every unexpected exception with a 500 itself, so Flask never sees it as
unhandled; Sentry still gets each one through its logging integration, from the
`log.exception(...)` that handler writes. No personal data is sent: no client IPs, no tokens, API
keys or cookies.
"""

from __future__ import annotations

import logging

import sentry_sdk
from flask import Flask
from sentry_sdk.integrations.flask import FlaskIntegration

log = logging.getLogger(__name__)


def init_app(app: Flask) -> bool:
    """Start reporting to Sentry when SENTRY_DSN is set; return whether it was started."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    # No personal data: that is the SDK's default (as send_default_pii=False), which sentry-sdk
    # 2.75 deprecates passing explicitly; its scrubber also blanks credentials and cookies.
    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration()],
        environment=app.config["APP_ENV"],
    )
    log.info("error reporting to Sentry enabled (environment=%s)", app.config["APP_ENV"])
    return True
