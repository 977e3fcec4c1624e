"""Settings from the environment (and an optional `.env`), parsed and validated once at start-up.

Code reads `current_app.config`; this is the only module that looks at environment variables.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

ENVIRONMENTS = ("development", "testing", "production")

# Development defaults: convenient locally, refused in production.
DEV_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105 - refused in production
DEV_JWT_SECRET_KEY = "dev-jwt-secret-key-not-for-production"  # noqa: S105
MIN_SECRET_LENGTH = 32
DEFAULT_DB_NAME = "flask_api"
# argon2-cffi's parameter profiles; the cheapest one only ever for tests.
DEFAULT_HASH_PROFILE = "RFC_9106_LOW_MEMORY"
PASSWORD_HASH_PROFILES = ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST")
# Per-document write locks: decided by the database server (stores/locks.py), or forced.
WRITE_LOCK_MODES = ("auto", "on", "off")
# Request logs: short coloured lines for a developer's terminal, JSON lines for log drains (and
# the e2e tests, which read them).
LOG_FORMATS = ("json", "text")
# SMTP_URL schemes: (default port, STARTTLS, TLS from the first byte).
SMTP_SCHEMES = {
    "smtp": (25, False, False),
    "smtp+starttls": (587, True, False),
    "smtps": (465, False, True),
}
# Mail goes out after the response, but a worker waiting on a dead SMTP server serves nobody.
SMTP_TIMEOUT_SECONDS = 10


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting is wrong and why."""


def _text(raw: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip()


def _int(raw: Mapping[str, Any], name: str, default: int, minimum: int = 1) -> int:
    value = raw.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _bool(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _database_name(mongo_uri: str | None) -> str:
    if not mongo_uri:
        return DEFAULT_DB_NAME
    path = urlsplit(mongo_uri).path.strip("/")
    return path or DEFAULT_DB_NAME


def _raw_settings(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Environment over `.env`, explicit overrides (tests, scripts) over both."""
    raw: dict[str, Any] = {}
    if not (overrides and "APP_ENV" in overrides):
        raw.update({k: v for k, v in dotenv_values().items() if v is not None})
    raw.update(os.environ)
    raw.update(overrides or {})
    return raw


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping; raise ConfigError when a setting is invalid or unsafe."""
    raw = _raw_settings(overrides)
    app_env = (_text(raw, "APP_ENV", "development") or "").lower()
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")

    mongo_uri = _text(raw, "MONGO_URI")
    redis_url = _text(raw, "REDIS_URL")
    default_limit = _int(raw, "DEFAULT_RATE_LIMIT", 100)
    login_limit = _int(raw, "LOGIN_RATE_LIMIT", 10)
    login_account_limit = _int(raw, "LOGIN_ACCOUNT_RATE_LIMIT", 100)
    login_address_limit = _int(raw, "LOGIN_ADDRESS_RATE_LIMIT", 30)
    register_limit = _int(raw, "REGISTER_RATE_LIMIT", 10)
    cors_origins = [o.strip() for o in (_text(raw, "CORS_ORIGINS", "") or "").split(",")]

    config: dict[str, Any] = {
        "APP_ENV": app_env,
        "TESTING": app_env == "testing",
        "SECRET_KEY": _text(raw, "SECRET_KEY", DEV_SECRET_KEY),
        "JWT_SECRET_KEY": _text(raw, "JWT_SECRET_KEY", DEV_JWT_SECRET_KEY),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=_int(raw, "JWT_ACCESS_TOKEN_EXPIRES", 900)),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(
            seconds=_int(raw, "JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600)
        ),
        # A login's absolute lifetime: refreshing never extends it (services/sessions.py).
        "JWT_SESSION_MAX_AGE": timedelta(seconds=_int(raw, "JWT_SESSION_MAX_AGE", 30 * 24 * 3600)),
        # How long a just-rotated refresh token still answers its successor pair (0: never).
        "JWT_REFRESH_REUSE_GRACE": timedelta(
            seconds=_int(raw, "JWT_REFRESH_REUSE_GRACE", 10, minimum=0)
        ),
        "MONGO_URI": mongo_uri,
        "MONGO_DB_NAME": _database_name(mongo_uri),
        "REDIS_URL": redis_url,
        "DEFAULT_RATE_LIMIT": default_limit,
        "LOGIN_RATE_LIMIT": login_limit,
        "LOGIN_ACCOUNT_RATE_LIMIT": login_account_limit,
        "LOGIN_ADDRESS_RATE_LIMIT": login_address_limit,
        "REGISTER_RATE_LIMIT": register_limit,
        "RATELIMIT_ENABLED": _bool(raw, "RATELIMIT_ENABLED", True),
        "CORS_ORIGINS": [o for o in cors_origins if o],
        "LOG_LEVEL": (_text(raw, "LOG_LEVEL", "INFO") or "INFO").upper(),
        "LOG_FORMAT": (
            _text(raw, "LOG_FORMAT", "text" if app_env == "development" else "json") or ""
        ).lower(),
        # Heroku Data for Redis serves `rediss://` with a certificate no public root signs.
        "REDIS_TLS_VERIFY": _bool(raw, "REDIS_TLS_VERIFY", True),
        "PORT": _int(raw, "PORT", 5000),
        "PROMETHEUS_ENABLED": _bool(raw, "PROMETHEUS_ENABLED", True),
        "SENTRY_DSN": _text(raw, "SENTRY_DSN"),
        # Proxies in front of the app that append to X-Forwarded-For (Heroku's router: 1).
        "TRUSTED_PROXY_HOPS": _int(raw, "TRUSTED_PROXY_HOPS", 0, minimum=0),
        # Bearer token /metrics asks for; in production /metrics is closed without one.
        "METRICS_TOKEN": _text(raw, "METRICS_TOKEN"),
        "MAX_CONTENT_LENGTH": _int(raw, "MAX_CONTENT_LENGTH", 1024 * 1024),
        # Fake users seeded for `make run` on the in-memory stand-ins (services/demo_data.py).
        "DEMO_USERS": _int(raw, "DEMO_USERS", 1000, minimum=0),
        "PASSWORD_HASH_PROFILE": _text(
            raw,
            "PASSWORD_HASH_PROFILE",
            "CHEAPEST" if app_env == "testing" else DEFAULT_HASH_PROFILE,
        ),
    }
    config.update(mail_settings(raw, app_env, config["PORT"]))
    config["WRITE_LOCKS"] = (_text(raw, "WRITE_LOCKS", "auto") or "").lower()
    if config["WRITE_LOCKS"] not in WRITE_LOCK_MODES:
        raise ConfigError(f"WRITE_LOCKS must be one of {', '.join(WRITE_LOCK_MODES)}")
    if config["PASSWORD_HASH_PROFILE"] not in PASSWORD_HASH_PROFILES:
        raise ConfigError(
            f"PASSWORD_HASH_PROFILE must be one of {', '.join(PASSWORD_HASH_PROFILES)}"
        )
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    # Settings the caller passed that this module does not parse (e.g. Flask's own) pass through.
    for key, value in (overrides or {}).items():
        config.setdefault(key, value)
    if app_env == "production":
        refuse_development_defaults(config)
    return config


def mail_settings(raw: Mapping[str, Any], app_env: str, port: int) -> dict[str, Any]:
    """Account recovery mail: where links point (PUBLIC_URL), who sends, and how it leaves.

    MAIL_DELIVERY is `smtp` when SMTP_URL is set, else `memory` under testing (Flask-Mailman's
    locmem outbox, read by the tests) and `outbox` in development (one file per message in
    MAIL_OUTBOX_DIR). Production refuses to start without SMTP_URL and PUBLIC_URL.
    """
    public_url = _text(raw, "PUBLIC_URL")
    smtp_url = _text(raw, "SMTP_URL")
    if app_env == "production":
        for name, value in (("SMTP_URL", smtp_url), ("PUBLIC_URL", public_url)):
            if not value:
                raise ConfigError(
                    f"APP_ENV=production refuses to start: {name} is unset, so password reset "
                    "and verification links could not be mailed"
                )
    public_url = _public_url(public_url or f"http://127.0.0.1:{port}")
    mail_from = _text(raw, "MAIL_FROM", f"Flask API <no-reply@{_mail_domain(public_url)}>")
    if "@" not in parseaddr(mail_from or "")[1]:
        raise ConfigError(f"MAIL_FROM must be an email address, got {mail_from!r}")
    settings: dict[str, Any] = {
        "PUBLIC_URL": public_url,
        "MAIL_FROM": mail_from,
        "MAIL_OUTBOX_DIR": _text(
            raw, "MAIL_OUTBOX_DIR", os.path.join(tempfile.gettempdir(), "flask-api-outbox")
        ),
        "MAIL_TIMEOUT": SMTP_TIMEOUT_SECONDS,
        "PASSWORD_RESET_EXPIRES": timedelta(seconds=_int(raw, "PASSWORD_RESET_EXPIRES", 1800)),
        "EMAIL_VERIFICATION_EXPIRES": timedelta(
            seconds=_int(raw, "EMAIL_VERIFICATION_EXPIRES", 7 * 24 * 3600)
        ),
        # Per hour: forgot-password requests per client address (over it: 429), and reset
        # mails per submitted address (over it: still 202, but no mail).
        "PASSWORD_RESET_ADDRESS_LIMIT": _int(raw, "PASSWORD_RESET_ADDRESS_LIMIT", 20),
        "PASSWORD_RESET_ACCOUNT_LIMIT": _int(raw, "PASSWORD_RESET_ACCOUNT_LIMIT", 5),
        "REQUIRE_VERIFIED_EMAIL": _bool(raw, "REQUIRE_VERIFIED_EMAIL", False),
    }
    if smtp_url:
        settings.update(_smtp_server(smtp_url), MAIL_DELIVERY="smtp")
    else:
        settings["MAIL_DELIVERY"] = "memory" if app_env == "testing" else "outbox"
    return settings


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"PUBLIC_URL must be the web client's http(s) origin, e.g. https://app.example.com, "
            f"got {value!r}"
        )
    return value.rstrip("/")


def _mail_domain(public_url: str) -> str:
    """The default sender's domain: PUBLIC_URL's host, `localhost` for an address."""
    host = urlsplit(public_url).hostname or "localhost"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return "localhost"


def _smtp_server(url: str) -> dict[str, Any]:
    """Flask-Mailman's settings for `smtp://$USER:$PASSWORD@host:port`, `smtps://...` (TLS) or
    `smtp+starttls://...`; the user and password are percent-decoded."""
    parts = urlsplit(url)
    scheme = SMTP_SCHEMES.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
        scheme = None
    if scheme is None or not parts.hostname:
        raise ConfigError(
            "SMTP_URL must look like smtp://$USER:$PASSWORD@host:port "
            "(or smtps://... for TLS, smtp+starttls://... for STARTTLS)"
        )
    default_port, starttls, tls = scheme
    return {
        "MAIL_SERVER": parts.hostname,
        "MAIL_PORT": port or default_port,
        "MAIL_USERNAME": unquote(parts.username) if parts.username else None,
        "MAIL_PASSWORD": unquote(parts.password) if parts.password else None,
        "MAIL_USE_TLS": starttls,
        "MAIL_USE_SSL": tls,
    }


def refuse_development_defaults(config: Mapping[str, Any]) -> None:
    """Production must run on its own secrets and on real servers, never on the stand-ins."""
    for name, dev_default in (
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("JWT_SECRET_KEY", DEV_JWT_SECRET_KEY),
    ):
        value = config.get(name)
        if not value or value == dev_default:
            raise ConfigError(f"APP_ENV=production refuses to start: {name} is unset")
        refuse_short_secret(name, value)
    # /metrics is never rate limited, so a short token could be guessed online.
    if config.get("METRICS_TOKEN"):
        refuse_short_secret("METRICS_TOKEN", config["METRICS_TOKEN"])
    if config.get("PASSWORD_HASH_PROFILE") == "CHEAPEST":
        raise ConfigError("APP_ENV=production refuses to start: PASSWORD_HASH_PROFILE is CHEAPEST")
    for name in ("MONGO_URI", "REDIS_URL"):
        if not config.get(name):
            raise ConfigError(
                f"APP_ENV=production refuses to start: {name} is unset, "
                "so the app would run on an in-memory stand-in"
            )


def refuse_short_secret(name: str, value: str) -> None:
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"APP_ENV=production refuses to start: {name} is shorter than "
            f"{MIN_SECRET_LENGTH} characters"
        )
