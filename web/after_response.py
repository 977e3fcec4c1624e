"""Work that runs after the response has been sent: mail, mostly.

A job scheduled with `after_response` runs when the WSGI server closes the response (werkzeug's
`call_on_close`: after the body was written to the client), in an app context of its own. So
the client's answer never waits for it and can never depend on it: its duration, its result and
its failure (logged with the request id) are invisible to the client. The worker stays busy
until the job ends, which is why mail has a short timeout (MAIL_TIMEOUT).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, after_this_request, current_app, g

log = logging.getLogger(__name__)


def after_response(job: Callable[..., Any], *args: Any) -> None:
    """Run `job(*args)` once this request's response has been sent."""
    app = current_app._get_current_object()
    request_id = g.get("request_id", "-")

    @after_this_request
    def schedule(response: Response) -> Response:
        response.call_on_close(lambda: run_job(app, request_id, job, args))
        return response


def run_job(app: Flask, request_id: str, job: Callable[..., Any], args: tuple) -> None:
    with app.app_context():
        try:
            job(*args)
        except Exception:
            # Nobody is waiting for it: the log is the only place a failure can go.
            log.exception("%s failed after the response (request id %s)", job.__name__, request_id)
