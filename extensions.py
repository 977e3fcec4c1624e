"""The app's extensions, created unbound here and bound to an app in `create_app`.

Nothing here connects at import time: uwsgi imports the app after forking each worker
(`lazy-apps`), and every worker builds its own clients.
"""

from __future__ import annotations

import hashlib
import logging

import redis
from flask import Flask, current_app, request
from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager, decode_token
from flask_limiter import Limiter

log = logging.getLogger(__name__)

# Short socket timeouts: an unreachable Redis becomes a 503 in seconds, never a hung worker.
REDIS_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2, "health_check_interval": 30}

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
    api_key = request.headers.get("X-API-KEY")
    if api_key:
        # Only a prefix of the key's hash: the counter name must not hold a usable secret.
        return f"apikey:{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"
    return f"ip:{request.remote_addr or 'unknown'}"


jwt = JWTManager()
limiter = Limiter(key_func=rate_limit_identity, headers_enabled=True)
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
    config.setdefault("RATELIMIT_DEFAULT", f"{config['DEFAULT_RATE_LIMIT']} per minute")
    config.setdefault("RATELIMIT_KEY_PREFIX", "ratelimit")
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
