"""The app's extensions, created unbound here and bound to an app in `create_app`.

Nothing here connects at import time: uwsgi imports the app after forking each worker
(`lazy-apps`), and every worker builds its own clients.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, current_app, request
from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager, decode_token
from flask_limiter import Limiter

log = logging.getLogger(__name__)

# Short socket timeouts: an unreachable Redis becomes a 503 in seconds, never a hung worker.
REDIS_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2, "health_check_interval": 30}
# What a `rediss://` connection skips with REDIS_TLS_VERIFY=false: Heroku Data for Redis presents
# a certificate that no public root signs (and that names no host the URL has).
UNVERIFIED_TLS_OPTIONS = {"ssl_cert_reqs": "none", "ssl_check_hostname": False}

# What browsers may send and read across origins (CORS).
ALLOWED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "X-API-KEY",
    "X-Request-ID",
]
EXPOSED_HEADERS = [
    "ETag",
    "Link",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-ID",
]


def rate_limit_identity() -> str:
    """Whom a request counts against: the user of a valid access token, an API key, else the IP.

    The limiter runs before the view authenticates, so this reads the credentials itself; a bad
    token falls back to the client's IP (the view will refuse it anyway).
    """
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        try:
            claims = decode_token(auth[len("Bearer ") :], allow_expired=False)
        except Exception:
            claims = None
        if claims and claims.get("type") == "access":
            return f"user:{claims['sub']}"
    if request.headers.get("X-API-KEY"):
        # Only a key that verifies (one lookup, reused by the view): made-up keys would otherwise
        # give a client a fresh budget per request. Counted by the key's public id, never the key.
        # (Imported here: services import errors.py, which imports this module.)
        from services.api_keys import api_key_identity

        identity = api_key_identity()
        if identity:
            return identity
    return f"ip:{request.remote_addr or 'unknown'}"


def api_wide_rate_limit() -> str:
    """DEFAULT_RATE_LIMIT per minute per identity, over all endpoints together (read per request,
    so each app, e.g. in tests, gets its own setting from the one module-level limiter)."""
    return f"{current_app.config['DEFAULT_RATE_LIMIT']} per minute"


def retry_after_only_on_refusals(response):
    """Flask-Limiter sends Retry-After with every response; it means something only on a 429 or
    503, and clients reading it on a 200 would wait for nothing."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def is_preflight() -> bool:
    return request.method == "OPTIONS"


def rate_limited_endpoint() -> str:
    """What Flask-Limiter calls the request's endpoint: unknown routes and wrong methods (no
    endpoint, which it would exempt) are counted too."""
    return request.endpoint or "unrouted"


jwt = JWTManager()
limiter = Limiter(key_func=rate_limit_identity, headers_enabled=True)
cache = Cache()
cors = CORS()


def redis_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Connection options for every Redis client of the app: its own, the rate limiter's storage
    and the cache. One place, so all three time out alike and trust the same certificates."""
    options = dict(REDIS_OPTIONS)
    url = config.get("REDIS_URL") or ""
    if url.startswith("rediss://") and not config.get("REDIS_TLS_VERIFY", True):
        options.update(UNVERIFIED_TLS_OPTIONS)
    return options


def init_redis(app: Flask) -> None:
    """Create this process's Redis client: the real server at REDIS_URL, else fakeredis."""
    url = app.config.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, **redis_options(app.config))
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
        log.warning(
            "REDIS_URL is unset: using an in-memory Redis stand-in (fakeredis); "
            "revoked tokens and rate-limit counters are lost when the process exits"
        )
    app.extensions["redis"] = client


def get_redis() -> redis.Redis:
    """The Redis client of the current app."""
    return current_app.extensions["redis"]


def init_extensions(app: Flask) -> None:
    """Bind every extension to the app, configured from `app.config`."""
    init_redis(app)
    jwt.init_app(app)

    config = app.config
    redis_url = config.get("REDIS_URL")
    config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    # The limiter's own Redis connections get the same options as the app's.
    config.setdefault("RATELIMIT_STORAGE_OPTIONS", redis_options(config) if redis_url else {})
    # An application limit (one counter per identity across every endpoint, as the contract's
    # "requests per minute per identity" means), not a default limit (one counter per endpoint).
    config.setdefault("RATELIMIT_APPLICATION", api_wide_rate_limit)
    # CORS preflights are the browser's, not the client's: they must not spend its budget.
    config.setdefault("RATELIMIT_APPLICATION_EXEMPT_WHEN", is_preflight)
    config.setdefault("RATELIMIT_REQUEST_IDENTIFIER", rate_limited_endpoint)
    config.setdefault("RATELIMIT_KEY_PREFIX", "ratelimit")
    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse).
    app.after_request(retry_after_only_on_refusals)
    limiter.init_app(app)

    if redis_url:
        config.setdefault("CACHE_TYPE", "RedisCache")
        config.setdefault("CACHE_REDIS_URL", redis_url)
        config.setdefault("CACHE_OPTIONS", redis_options(config))
    else:
        config.setdefault("CACHE_TYPE", "SimpleCache")
    config.setdefault("CACHE_KEY_PREFIX", "cache:")
    config.setdefault("CACHE_DEFAULT_TIMEOUT", 300)
    cache.init_app(app)

    cors.init_app(
        app,
        origins=config["CORS_ORIGINS"],
        expose_headers=EXPOSED_HEADERS,
        allow_headers=ALLOWED_REQUEST_HEADERS,
    )
