"""One set of Redis connection options for the app's client, the limiter and the cache; TLS
verification is skipped only for a `rediss://` URL with REDIS_TLS_VERIFY=false."""

from __future__ import annotations

import pytest

from config import ConfigError, load_config
from extensions import redis_options


def options_for(**settings: str) -> dict:
    return redis_options(load_config({"APP_ENV": "testing", **settings}))


def test_tls_is_verified_by_default():
    assert load_config({"APP_ENV": "testing"})["REDIS_TLS_VERIFY"] is True
    assert "ssl_cert_reqs" not in options_for(REDIS_URL="rediss://h:6380/0")


def test_unverified_tls_when_told():
    options = options_for(REDIS_URL="rediss://h:6380/0", REDIS_TLS_VERIFY="false")
    assert options["ssl_cert_reqs"] == "none"
    assert options["ssl_check_hostname"] is False
    assert options["socket_timeout"] == 2


def test_plain_redis_gets_no_tls_options():
    # redis-py refuses ssl_* arguments on a plain connection.
    options = options_for(REDIS_URL="redis://h:6379/0", REDIS_TLS_VERIFY="false")
    assert not any(key.startswith("ssl") for key in options)


def test_the_limiter_and_the_cache_get_the_same_options(app_config):
    from app import create_app

    app = create_app({**app_config, "REDIS_URL": "rediss://h:6380/0", "REDIS_TLS_VERIFY": "false"})
    expected = redis_options(app.config)
    assert app.config["RATELIMIT_STORAGE_OPTIONS"] == expected
    assert app.config["CACHE_OPTIONS"] == expected


def test_a_bad_value_is_refused():
    with pytest.raises(ConfigError, match="REDIS_TLS_VERIFY"):
        load_config({"APP_ENV": "testing", "REDIS_TLS_VERIFY": "maybe"})
