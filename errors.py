"""The one error shape of the API, and the handlers that render every failure in it.

Whatever goes wrong (validation, auth, an unknown route, a wrong method, an unreachable database,
a bug) ends here as `{"error": {"code", "message", "details"?}}` with the matching status.
"""

from __future__ import annotations

import logging
from typing import Any

import pymongo.errors
import redis.exceptions
from flask import Flask, g, jsonify
from flask_restful import Api
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from extensions import keep_retry_after
from services.exceptions import RefreshInProgress, SessionRevoked
from stores.exceptions import Busy, Conflict, NotFound, Stale

log = logging.getLogger(__name__)

# The contract's code for each status; statuses missing here get a code derived from their name.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

MESSAGES = {
    400: "The request is malformed.",
    401: "Authentication is required.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "This method is not allowed on this resource.",
    409: "The resource conflicts with an existing one.",
    412: "The resource has changed since you last read it.",
    413: "The request body is too large.",
    415: "Requests with a body must send Content-Type: application/json.",
    422: "The request body is invalid.",
    429: "Too many requests; slow down.",
    500: "Something went wrong on our side.",
    503: "A service this request needs is unavailable; try again shortly.",
}

# Headers of werkzeug's HTTP exceptions that carry meaning for clients (405's Allow, 429's timing).
KEPT_HEADERS = {"allow", "retry-after", "www-authenticate"}


class ApiError(Exception):
    """Raise anywhere to answer with the error shape: `ApiError(404, "not_found", "No such todo")`."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or MESSAGES.get(status, ""))
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message or MESSAGES.get(status, "Error.")
        self.details = details
        self.headers = headers or {}


class ServiceUnavailable(ApiError):
    """A dependency (MongoDB or Redis) is unreachable: the client may retry later."""

    def __init__(self, service: str) -> None:
        super().__init__(
            503,
            "service_unavailable",
            f"{service} is unavailable; try again shortly.",
            {"unavailable": [service]},
            {"Retry-After": "5"},
        )


def error_response(
    status: int,
    code: str | None = None,
    message: str | None = None,
    details: Any = None,
    headers: dict[str, str] | None = None,
):
    """Render the one error shape; every handler in the app ends here."""
    error: dict[str, Any] = {
        "code": code or CODES.get(status, "error"),
        "message": message or MESSAGES.get(status, "Error."),
    }
    if details:
        error["details"] = details
    response = jsonify({"error": error})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _render_api_error(error: ApiError):
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def _render_http_exception(error: HTTPException):
    status = error.code or 500
    code = CODES.get(status) or (error.name or "error").lower().replace(" ", "_")
    headers = {k: v for k, v in error.get_headers() if k.lower() in KEPT_HEADERS}
    return error_response(status, code, MESSAGES.get(status, error.name), headers=headers)


def _render_validation_error(error: ValidationError):
    details = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return error_response(422, "validation_error", MESSAGES[422], details)


def _render_not_found(error: NotFound):
    return error_response(404, "not_found", f"No such {error.what}.")


def _render_stale(error: Stale):
    return error_response(
        412,
        "precondition_failed",
        f"The {error.what} has changed since you read it; fetch it again and retry.",
    )


def _render_conflict(error: Conflict):
    field = error.field
    return error_response(409, "conflict", f"That {field} is already taken.", {field: ["taken"]})


def _render_busy(error: Busy):
    return error_response(
        409, "conflict", f"The {error.what} is being changed by another request; try again."
    )


def _render_session_revoked(error: SessionRevoked):
    return error_response(401, "token_revoked", "The token has been revoked.")


def _render_refresh_in_progress(error: RefreshInProgress):
    # The first exchange takes milliseconds: retry in a second, well within the reuse grace.
    keep_retry_after(1)
    return error_response(
        409,
        "request_in_progress",
        "This refresh token is being exchanged by another request; retry for the same pair.",
    )


def _render_mongo_down(error: Exception):
    log.warning("mongodb unavailable: %s", type(error).__name__)
    return _render_api_error(ServiceUnavailable("mongodb"))


def _render_redis_down(error: Exception):
    log.warning("redis unavailable: %s", type(error).__name__)
    return _render_api_error(ServiceUnavailable("redis"))


def _render_duplicate_key(error: pymongo.errors.DuplicateKeyError):
    """A safety net: stores translate duplicates into field-level 409s themselves."""
    return error_response(409, "conflict", MESSAGES[409])


def _render_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _render_http_exception(error)
    log.exception("unhandled error (request id %s)", g.get("request_id", "-"))
    return error_response(500, "internal_error", MESSAGES[500])


class ErrorRoutingApi(Api):
    """Flask-RESTful's Api whose errors all reach the app's handlers below.

    Flask-RESTful intercepts exceptions raised in its resources and renders them itself (and turns
    Flask-JWT-Extended's errors into 500s when PROPAGATE_EXCEPTIONS is off). Re-raising hands the
    exception back to Flask, so every error takes the one path to the one shape.
    """

    def handle_error(self, e):
        raise e


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _render_api_error)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(ValidationError, _render_validation_error)
    app.register_error_handler(NotFound, _render_not_found)
    app.register_error_handler(Stale, _render_stale)
    app.register_error_handler(Conflict, _render_conflict)
    app.register_error_handler(Busy, _render_busy)
    app.register_error_handler(SessionRevoked, _render_session_revoked)
    app.register_error_handler(RefreshInProgress, _render_refresh_in_progress)
    app.register_error_handler(pymongo.errors.DuplicateKeyError, _render_duplicate_key)
    app.register_error_handler(pymongo.errors.ConnectionFailure, _render_mongo_down)
    # A deadline (db.short_deadline_while_unreachable) that ran out on the server's side.
    app.register_error_handler(pymongo.errors.ExecutionTimeout, _render_mongo_down)
    app.register_error_handler(redis.exceptions.ConnectionError, _render_redis_down)
    app.register_error_handler(redis.exceptions.TimeoutError, _render_redis_down)
    app.register_error_handler(Exception, _render_unexpected)
