"""Request ids and request logs: one line per request, tagged with its id and, once the request
has proved it, the caller (user id or API-key id; never a token, a password or a key).

Every response carries `X-Request-ID`: the client's own when it sent a sane one, else a new one,
so a client's report can be matched with the server's log line. LOG_FORMAT picks the rendering:
`json` (one JSON object per line, what log drains and the e2e tests read) or `text` (a short
line for a developer's terminal, coloured by status when it is one).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request
from flask_jwt_extended import get_jwt

log = logging.getLogger("api.request")

# Accept the client's id only when it cannot forge log lines or bloat them.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# werkzeug's development server logs every request itself (`127.0.0.1 - - [date] "GET / ..."`,
# with colour codes): under `flask run` that would be a second, differently shaped line.
WERKZEUG_ACCESS_LINE = re.compile(r'^\S+ - - \[[^\]]*\] "')
# Colour codes other libraries put in their messages (werkzeug's banner): noise in a JSON line or
# in a file.
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")
# ANSI colours of a status class in text lines: 2xx green, 3xx cyan, 4xx yellow, 5xx red.
STATUS_COLOURS = {2: "32", 3: "36", 4: "33", 5: "31"}


class JsonFormatter(logging.Formatter):
    """Render each log record as one JSON object per line (what Heroku's log drains expect)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": ANSI_STYLE.sub("", record.getMessage()),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Short lines for a terminal: `GET /api/v1/todos 200 3.1ms <request id>` per request (the
    status coloured when `colour`), `LEVEL logger: message` for everything else."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        if "status" in fields:
            line = (
                f"{fields['method']} {fields['path']} {self._status(fields['status'])} "
                f"{fields['duration_ms']:.1f}ms {fields['request_id']}"
            )
        else:
            message = record.getMessage()
            line = f"{record.levelname} {record.name}: {message if self.colour else ANSI_STYLE.sub('', message)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line

    def _status(self, status: int) -> str:
        colour = STATUS_COLOURS.get(status // 100)
        return f"\x1b[{colour}m{status}\x1b[0m" if self.colour and colour else str(status)


class DropWerkzeugAccessLines(logging.Filter):
    """Keep werkzeug's start-up banner and errors, drop its per-request lines (ours say more)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not WERKZEUG_ACCESS_LINE.match(record.getMessage())


def configure_logging(level: str, log_format: str) -> None:
    """Every logger writes one line per record to stderr (where uwsgi writes its own lines, and
    what Heroku and container runtimes collect), in the chosen format."""
    stream = sys.stderr
    handler = logging.StreamHandler(stream)
    if log_format == "text":
        handler.setFormatter(TextFormatter(colour=stream.isatty()))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    werkzeug = logging.getLogger("werkzeug")
    for old in [f for f in werkzeug.filters if isinstance(f, DropWerkzeugAccessLines)]:
        werkzeug.removeFilter(old)
    werkzeug.addFilter(DropWerkzeugAccessLines())


def caller_fields() -> dict[str, Any]:
    """Who made the request, once it has proved it: the user id of a verified token, or the id
    of a verified API key (`g.caller`, set by the JWT-or-key guard). Nothing for anonymous or
    refused requests, and never the credential itself."""
    caller = g.get("caller")
    if caller and caller.get("type") == "api_key":
        return {"api_key_id": caller["id"]}
    if caller and caller.get("type") == "user":
        return {"user_id": caller["id"]}
    try:
        subject = get_jwt().get("sub")  # a token that verified in this request
    except RuntimeError:
        subject = None  # no token was verified
    return {"user_id": subject} if subject else {}


def _start_request() -> None:
    g.started = time.perf_counter()
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if CLIENT_REQUEST_ID.match(sent) else uuid.uuid4().hex


def _finish_request(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "fields": {
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
                "remote_addr": request.remote_addr,
                "pid": os.getpid(),
                **caller_fields(),
            }
        },
    )
    return response


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
