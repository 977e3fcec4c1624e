"""TRUSTED_PROXY_HOPS: with 0, X-Forwarded-For is the client's say-so and changes nothing; with N,
the Nth value from the end is the client, for the rate limits and the request log alike."""

from __future__ import annotations

import logging

import pytest

from app import create_app
from config import ConfigError, load_config

LIMIT = 2
NOWHERE = "/api/v1/nowhere"
ROUTER = "10.1.2.3"


@pytest.fixture
def hops() -> int:
    """Override with `@pytest.mark.parametrize("hops", [N])`."""
    return 0


@pytest.fixture
def client(app_config, hops):
    """(Built before the test runs: create_app sets up logging, which caplog must come after.)"""
    app = create_app(
        {
            **app_config,
            "TRUSTED_PROXY_HOPS": hops,
            "RATELIMIT_ENABLED": True,
            "DEFAULT_RATE_LIMIT": LIMIT,
        }
    )
    return app.test_client()


def get(client, forwarded_for: str):
    return client.get(
        NOWHERE, headers={"X-Forwarded-For": forwarded_for}, environ_base={"REMOTE_ADDR": ROUTER}
    )


def logged_address(client, caplog, forwarded_for: str) -> str:
    caplog.set_level(logging.INFO, logger="api.request")
    caplog.clear()
    get(client, forwarded_for)
    (record,) = [r for r in caplog.records if r.name == "api.request"]
    return record.fields["remote_addr"]


def test_no_proxy_is_trusted_by_default():
    assert load_config({"APP_ENV": "testing"})["TRUSTED_PROXY_HOPS"] == 0


def test_a_negative_hop_count_is_refused():
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        load_config({"APP_ENV": "testing", "TRUSTED_PROXY_HOPS": "-1"})


def test_without_trusted_proxies_a_forged_header_changes_nothing(client, caplog):
    statuses = [get(client, f"203.0.113.{n}").status_code for n in range(LIMIT + 1)]
    assert statuses == [404] * LIMIT + [429]
    assert logged_address(client, caplog, "203.0.113.99") == ROUTER


@pytest.mark.parametrize("hops", [1])
def test_with_one_hop_the_last_address_is_the_client(client, caplog):
    statuses = [get(client, f"203.0.113.{n}").status_code for n in range(LIMIT + 1)]
    assert statuses == [404] * (LIMIT + 1)
    assert logged_address(client, caplog, "198.51.100.1, 203.0.113.7") == "203.0.113.7"


@pytest.mark.parametrize("hops", [1])
def test_with_one_hop_what_the_client_prepends_is_ignored(client):
    statuses = [get(client, f"192.0.2.{n}, 203.0.113.7").status_code for n in range(LIMIT + 1)]
    assert statuses == [404] * LIMIT + [429]


@pytest.mark.parametrize("hops", [2])
def test_with_two_hops_the_second_address_from_the_end_is_the_client(client, caplog):
    assert logged_address(client, caplog, "192.0.2.1, 203.0.113.7, 10.0.0.2") == "203.0.113.7"
