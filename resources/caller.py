"""Who is calling: the guard that lets a request in with a JWT or an API key, and the identity
every request's rate limit counts against.

The API-key rules themselves (format, hashing, revocation) live in services/api_keys.py; this
module reads the credentials off the request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException, RevokedTokenError
from jwt import PyJWTError

from errors import ApiError
from services.api_keys import verify_api_key

API_KEY_HEADER = "X-API-KEY"
BEARER = "Bearer "
# What each guard documents in OpenAPI (web/openapi.py reads `openapi_security` off the guard).
BEARER_AUTH = [{"bearerAuth": []}]
BEARER_OR_API_KEY_AUTH = [{"bearerAuth": []}, {"apiKeyAuth": []}]


def documented_guard(guard: Callable, security: list[dict[str, list]]) -> Callable:
    """`guard`, carrying the OpenAPI security requirement it enforces."""
    guard.openapi_security = security
    return guard


def verify_token(refresh: bool = False) -> None:
    """Verify the request's token (an access token, or a refresh token when `refresh`), once.

    The rate limiter's identity runs first and verifies an access token with the same call
    (`rate_limit_identity`); Flask-JWT-Extended keeps what verified in its request context, and
    this reuses it instead of decoding the token and asking Redis again. Anything that did not
    verify is verified here, so every refusal is the 401 it has always been (blacklist.py).
    """
    try:
        verified = get_jwt()
    except RuntimeError:  # nothing verified yet in this request
        verified = {}
    if verified.get("type") != ("refresh" if refresh else "access"):
        verify_jwt_in_request(refresh=refresh)


def token_required(refresh: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The guard of a view that needs a token: Flask-JWT-Extended's `jwt_required`, verifying
    once per request (`verify_token`)."""

    def guard(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            verify_token(refresh)
            return view(*args, **kwargs)

        return guarded

    return guard


# Resources list these in `method_decorators`.
access_token_required = documented_guard(token_required(), BEARER_AUTH)
refresh_token_required = documented_guard(token_required(refresh=True), BEARER_AUTH)


def request_api_key() -> dict[str, Any] | None:
    """The active key document for the request's `X-API-KEY`, or None (absent, malformed,
    unknown or revoked).

    Looked up once per request: the rate limiter identifies the caller by the same lookup the
    view's guard then reuses.
    """
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        return None
    if "api_key" not in g:
        g.api_key = verify_api_key(key)
    return g.api_key


def access_token_claims() -> dict[str, Any] | None:
    """The claims of the request's access token, verified here once for the whole request (the
    guard reuses them: `verify_token`); None when it does not verify.

    A revoked token still names its user: it counts against that user's budget, as it did when
    this only decoded the token. Failures other than the token's own (Redis unreachable for the
    blocklist check) propagate: the request answers 503.
    """
    try:
        verify_token()
    except RevokedTokenError as revoked:
        return revoked.jwt_data
    except (JWTExtendedException, PyJWTError):
        return None
    return get_jwt()


def rate_limit_identity() -> str:
    """Whom a request counts against: the user of a valid access token, an API key, else the IP.

    The limiter runs before the view authenticates, so this reads the credentials itself; a bad
    token falls back to the client's IP (the view will refuse it anyway). Only a key that
    verifies counts as a key: made-up keys would otherwise give a client a fresh budget per
    request. A key is counted by its public id, never by the key.
    """
    if request.headers.get("Authorization", "").startswith(BEARER):
        claims = access_token_claims()
        if claims:
            return f"user:{claims['sub']}"
    document = request_api_key()
    if document:
        return f"apikey:{document['key_id']}"
    return f"ip:{request.remote_addr or 'unknown'}"


def _caller_from_jwt() -> dict[str, str]:
    verify_token()  # its failures are the usual 401s (blacklist.py)
    claims = get_jwt()
    return {"type": "user", "id": claims["sub"], "username": claims["username"]}


def _caller_from_api_key() -> dict[str, str]:
    document = request_api_key()
    if document is None:
        raise ApiError(401, "invalid_credentials", "The API key is invalid or has been revoked.")
    return {"type": "api_key", "id": document["key_id"], "owner": document["owner"]}


def jwt_or_api_key_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let a request in with an access token (`Authorization: Bearer`) or an `X-API-KEY`.

    A request sending an Authorization header is judged by it (a bad token is a 401 even with a
    key alongside); otherwise by its key. `current_caller()` then says who is calling.
    """

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if request.headers.get("Authorization"):
            g.caller = _caller_from_jwt()
        elif request.headers.get(API_KEY_HEADER):
            g.caller = _caller_from_api_key()
        else:
            raise ApiError(
                401,
                "unauthorized",
                "Send an access token (Authorization: Bearer ...) or an X-API-KEY header.",
            )
        return view(*args, **kwargs)

    return guarded


documented_guard(jwt_or_api_key_required, BEARER_OR_API_KEY_AUTH)


def current_caller() -> dict[str, str]:
    """Who is calling, as templates record it in `created_by`."""
    return g.caller
