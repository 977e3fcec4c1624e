"""LOG_FORMAT: JSON lines for drains (production, testing), short text lines for a developer's
terminal (development); the caller's id on the request line, never a credential."""

from __future__ import annotations

import json
import logging
import re

import pytest

from config import ConfigError, load_config
from observability.request_log import DropWerkzeugAccessLines, JsonFormatter, TextFormatter

TEXT_LINE = re.compile(r"^GET /nope 404 \d+\.\dms trace-me$")


PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "JWT_SECRET_KEY": "j" * 40,
    "MONGO_URI": "mongodb://m/d",
    "REDIS_URL": "redis://r",
    "SMTP_URL": "smtps://s",
    "PUBLIC_URL": "https://p",
}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({"APP_ENV": "development"}, "text"), ({"APP_ENV": "testing"}, "json"), (PRODUCTION, "json")],
)
def test_log_format_defaults_by_environment(settings, expected, monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert load_config(settings)["LOG_FORMAT"] == expected


def test_log_format_can_be_chosen_and_is_validated():
    assert load_config({**PRODUCTION, "LOG_FORMAT": "TEXT"})["LOG_FORMAT"] == "text"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_config({"APP_ENV": "testing", "LOG_FORMAT": "xml"})


def request_record(client, caplog, path="/nope", **headers) -> logging.LogRecord:
    caplog.set_level(logging.INFO, logger="api.request")
    client.get(path, headers={"X-Request-ID": "trace-me", **headers})
    records = [r for r in caplog.records if r.name == "api.request"]
    assert len(records) == 1
    return records[0]


def test_text_line_is_method_path_status_duration_and_request_id(client, caplog):
    line = TextFormatter(colour=False).format(request_record(client, caplog))
    assert TEXT_LINE.match(line), line
    assert "\x1b" not in line and "\n" not in line


def test_text_line_colours_the_status_on_a_terminal(client, caplog):
    line = TextFormatter(colour=True).format(request_record(client, caplog))
    assert "\x1b[33m404\x1b[0m" in line
    assert line.startswith("GET /nope ") and line.endswith(" trace-me")


def test_other_records_are_one_text_line_with_level_and_logger():
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, "redis %s", ("down",), None)
    assert TextFormatter(colour=False).format(record) == "WARNING app: redis down"


def json_line(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter().format(record))


def test_request_line_names_the_user_of_a_verified_token(client, caplog, user, auth_headers):
    line = json_line(request_record(client, caplog, "/api/v1/users/me", **auth_headers(user)))
    assert line["status"] == 200
    assert line["user_id"] == str(user["_id"])
    assert "api_key_id" not in line


def test_request_line_names_the_api_key_by_its_id(app, client, caplog):
    from services.api_keys import create_api_key

    with app.app_context():
        document, key = create_api_key("log-check")
    line = json_line(request_record(client, caplog, "/api/v1/templates", **{"X-API-KEY": key}))
    assert line["status"] == 200
    assert line["api_key_id"] == document["key_id"]
    assert key not in json.dumps(line) and key.split("_", 2)[2] not in json.dumps(line)


def test_anonymous_and_refused_requests_name_nobody(client, caplog):
    line = json_line(
        request_record(client, caplog, "/api/v1/users/me", Authorization="Bearer not.a.token")
    )
    assert line["status"] == 401
    assert "user_id" not in line and "api_key_id" not in line


def test_werkzeug_request_lines_are_dropped_and_its_banner_kept():
    def record(message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("werkzeug", logging.INFO, __file__, 1, message, args, None)

    access = record(
        '127.0.0.1 - - [03/Dec/2026 09:00:00] "%s" %s %s', "GET /health HTTP/1.1", "200", "-"
    )
    banner = record(" * Running on http://127.0.0.1:5000")
    error = record("127.0.0.1 - - [03/Dec/2026 09:00:00] code 400, message Bad request syntax")
    keep = DropWerkzeugAccessLines()
    assert not keep.filter(access)
    assert keep.filter(banner) and keep.filter(error)


def test_colour_codes_in_messages_never_reach_json_or_a_plain_text_line():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "\x1b[33mPress CTRL+C to quit\x1b[0m", (), None
    )
    assert json_line(record)["message"] == "Press CTRL+C to quit"
    assert TextFormatter(colour=False).format(record) == "INFO werkzeug: Press CTRL+C to quit"
