"""Configuration: parsed from the environment, and unsafe production settings refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app
from config import ConfigError, load_config

SAFE_PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "JWT_SECRET_KEY": "j" * 40,
    "MONGO_URI": "mongodb://db.example:27017/app",
    "REDIS_URL": "redis://cache.example:6379/0",
    "SMTP_URL": "smtps://mailer:secret@smtp.example:465",
    "PUBLIC_URL": "https://app.example",
}


def test_production_with_real_secrets_and_servers_is_accepted():
    config = load_config(SAFE_PRODUCTION)
    assert config["APP_ENV"] == "production"
    assert config["MONGO_DB_NAME"] == "app"


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "JWT_SECRET_KEY", "MONGO_URI", "REDIS_URL", "SMTP_URL", "PUBLIC_URL"]
)
def test_production_refuses_an_unset_setting(missing):
    with pytest.raises(ConfigError, match=missing):
        create_app({**SAFE_PRODUCTION, missing: ""})


def test_production_refuses_the_development_secret():
    from config import DEV_JWT_SECRET_KEY

    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        load_config({**SAFE_PRODUCTION, "JWT_SECRET_KEY": DEV_JWT_SECRET_KEY})


def test_production_refuses_a_short_secret():
    with pytest.raises(ConfigError, match="SECRET_KEY is shorter"):
        load_config({**SAFE_PRODUCTION, "SECRET_KEY": "short"})


def test_lifetimes_are_whole_seconds():
    config = load_config(
        {"APP_ENV": "testing", "JWT_ACCESS_TOKEN_EXPIRES": "60", "JWT_REFRESH_TOKEN_EXPIRES": 120}
    )
    assert config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(seconds=60)
    assert config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(seconds=120)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEFAULT_RATE_LIMIT", "lots"), ("RATELIMIT_ENABLED", "maybe"), ("APP_ENV", "staging")],
)
def test_invalid_values_are_refused_with_the_setting_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config({"APP_ENV": "testing", name: value} if name != "APP_ENV" else {name: value})


def test_cors_origins_are_a_comma_separated_list():
    config = load_config(
        {"APP_ENV": "testing", "CORS_ORIGINS": "https://a.example, https://b.example"}
    )
    assert config["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]


def test_production_hashes_with_the_rfc_9106_profile_and_refuses_the_cheap_one():
    assert load_config(SAFE_PRODUCTION)["PASSWORD_HASH_PROFILE"] == "RFC_9106_LOW_MEMORY"
    with pytest.raises(ConfigError, match="PASSWORD_HASH_PROFILE"):
        load_config({**SAFE_PRODUCTION, "PASSWORD_HASH_PROFILE": "CHEAPEST"})
