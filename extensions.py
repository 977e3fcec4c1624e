"""The app's extensions, created unbound here and bound to an app in `create_app`.

Nothing here connects at import time: uwsgi imports the app after forking each worker
(`lazy-apps`), and every worker builds its own clients.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, current_app, g, request
from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter

log = logging.getLogger(__name__)

# Short socket timeouts: an unreachable Redis becomes a 503 in seconds, never a hung worker.
REDIS_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2, "health_check_interval": 30}

# What browsers may send and read across origins (CORS).
ALLOWED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-API-KEY",
    "X-Request-ID",
]
EXPOSED_HEADERS = [
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-ID",
]


def rate_limit_key() -> str:
    """The limiter's key function: the identity function the app registered as
    `app.extensions["rate_limit_identity"]` (resources/caller.py), so that this module can create
    the limiter without knowing how callers are identified."""
    return current_app.extensions["rate_limit_identity"]()


def api_wide_rate_limit() -> str:
    """DEFAULT_RATE_LIMIT per minute per identity, over all endpoints together (read per request,
    so each app, e.g. in tests, gets its own setting from the one module-level limiter)."""
    return f"{current_app.config['DEFAULT_RATE_LIMIT']} per minute"


def keep_retry_after(seconds: int) -> None:
    """Make this request's response say `Retry-After: seconds`, whatever its status: for the
    few refusals besides 429 and 503 that tell the client when to try again (a 409
    `request_in_progress`)."""
    g.retry_after = str(seconds)


def retry_after_only_on_refusals(response):
    """Flask-Limiter sends Retry-After with every response (and raises it to its window's reset);
    it means something only on a 429 or 503, and clients reading it on a 200 would wait for
    nothing. A response that asked for its own (`keep_retry_after`) gets exactly that."""
    if "retry_after" in g:
        response.headers["Retry-After"] = g.retry_after
    elif response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def is_preflight() -> bool:
    return request.method == "OPTIONS"


def rate_limited_endpoint() -> str:
    """What Flask-Limiter calls the request's endpoint: unknown routes and wrong methods (no
    endpoint, which it would exempt) are counted too."""
    return request.endpoint or "unrouted"


jwt = JWTManager()
limiter = Limiter(key_func=rate_limit_key, headers_enabled=True)
cache = Cache()
cors = CORS()


def init_redis(app: Flask) -> None:
    """Create this process's Redis client: the real server at REDIS_URL, else fakeredis."""
    url = app.config.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, **REDIS_OPTIONS)
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
    # The limiter's own Redis connections get the same short timeouts as the app's.
    config.setdefault(
        "RATELIMIT_STORAGE_OPTIONS",
        {"socket_timeout": 2, "socket_connect_timeout": 2} if redis_url else {},
    )
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
        config.setdefault("CACHE_OPTIONS", REDIS_OPTIONS)
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
