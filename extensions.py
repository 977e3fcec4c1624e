"""The app's extensions, created unbound here and bound to an app in `create_app`.

Nothing here connects at import time: uwsgi imports the app after forking each worker
(`lazy-apps`), and every worker builds its own clients.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, current_app, g, has_request_context, request
from flask_caching import Cache
from flask_compress import Compress
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from limits.storage import RedisStorage

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
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
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


def preflights_answer_no_content(response):
    """Flask answers OPTIONS itself with an empty 200 (and a text/html type); a preflight's
    answer is headers only, which 204 says without a content type to misread."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204
        response.headers.pop("Content-Type", None)
    return response


def compress_keeping_etag(response):
    """Flask-Compress's hook, except that the ETag stays the resource's version.

    Flask-Compress appends the coding to a strong ETag (`"<id>-1"` -> `"<id>-1:gzip"`), so a
    client that read a compressed response would send back a tag that `If-Match` and
    `If-None-Match` do not know. The ETag names the stored version (see web/conditional.py),
    and `Vary: Accept-Encoding` keeps shared caches from mixing the encodings up.
    """
    etag = response.headers.get("ETag")
    response = compress.after_request(response)
    if etag is not None:
        response.headers["ETag"] = etag
    return response


def is_preflight() -> bool:
    return request.method == "OPTIONS"


def rate_limited_endpoint() -> str:
    """What Flask-Limiter calls the request's endpoint: unknown routes and wrong methods (no
    endpoint, which it would exempt) are counted too."""
    return request.endpoint or "unrouted"


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage, except that counting a request is one round trip, not three.

    For each request Flask-Limiter increments the window's counter, then, to write the
    X-RateLimit headers, reads the counter again and asks for its TTL: two more round trips to
    learn what the increment could have answered. Here the increment's script returns the count
    and the TTL together, and the two reads that follow it in the same request are answered from
    them (the count this request made, which is what its headers describe). Reads of a key not
    incremented in this request, and reads outside a request, go to Redis as before.

    Flask-Limiter picks it by scheme: RATELIMIT_STORAGE_URI `onetrip+redis://...` (or
    `onetrip+rediss://`) wraps the Redis URL.
    """

    STORAGE_SCHEME = ["onetrip+redis", "onetrip+rediss"]
    SCRIPT_INCR_WINDOW = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""

    def __init__(self, uri: str, **options: Any) -> None:
        uri = uri.removeprefix("onetrip+")
        if not uri.startswith("rediss://"):
            # TLS options mean nothing on a plain connection (redis-py refuses them), and
            # Flask-Limiter merges storage options across every app that one process builds.
            options = {name: value for name, value in options.items() if not name.startswith("ssl")}
        super().__init__(uri, **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_incr_window = self.get_connection().register_script(self.SCRIPT_INCR_WINDOW)

    @staticmethod
    def _windows() -> dict[str, tuple[int, float]]:
        """This request's counts and window ends, by key (empty outside a request)."""
        if not has_request_context():
            return {}
        return g.setdefault("rate_limit_windows", {})

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, ttl = self.lua_incr_window([self.prefixed_key(key)], [expiry, amount])
        self._windows()[key] = (int(count), time.time() + max(int(ttl), 0))
        return int(count)

    def get(self, key: str) -> int:
        known = self._windows().get(key)
        return known[0] if known else super().get(key)

    def get_expiry(self, key: str) -> float:
        known = self._windows().get(key)
        return known[1] if known else super().get_expiry(key)


def rate_limit_storage_uri(redis_url: str | None) -> str:
    """Where the limiter counts: Redis through OneTripRedisStorage, else in memory."""
    return f"onetrip+{redis_url}" if redis_url else "memory://"


jwt = JWTManager()
limiter = Limiter(key_func=rate_limit_key, headers_enabled=True)
cache = Cache()
cors = CORS()
compress = Compress()


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
    config.setdefault("RATELIMIT_STORAGE_URI", rate_limit_storage_uri(redis_url))
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

    # Compression is asked for explicitly: gzip (br for clients that prefer it), JSON only, and
    # only above 1 KiB, where it pays for itself. Conditional requests stay the resources' job
    # (their 304s and 412s compare versions, not bytes), and our own hook restores the ETag.
    config.setdefault("COMPRESS_ALGORITHM", ["gzip", "br"])
    config.setdefault("COMPRESS_MIMETYPES", ["application/json"])
    config.setdefault("COMPRESS_MIN_SIZE", 1024)
    config.setdefault("COMPRESS_STREAMS", False)
    config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    config.setdefault("COMPRESS_REGISTER", False)
    compress.init_app(app)
    # Both registered before CORS's hook, so they run after it (reverse order): compression sees
    # CORS's `Vary: Origin` and folds `Accept-Encoding` into it.
    app.after_request(compress_keeping_etag)
    app.after_request(preflights_answer_no_content)
    cors.init_app(
        app,
        origins=config["CORS_ORIGINS"],
        expose_headers=EXPOSED_HEADERS,
        allow_headers=ALLOWED_REQUEST_HEADERS,
    )
