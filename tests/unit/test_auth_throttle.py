"""Login throttling counts failed attempts per (account, address), per account and per address;
registration counts every attempt per address. On the in-process limiter storage (the e2e test
runs the same rules on Redis under uwsgi)."""

from __future__ import annotations

import time

import pytest

from app import create_app
from config import load_config
from resources.auth_throttle import NO_LOGIN, attempted_account
from tests.support import LOGIN, REGISTER

PAIR, ACCOUNT, ADDRESS, REGISTRATIONS = 3, 4, 5, 2
PASSWORD = "s3cret-pass"
OWNER_ADDRESS, ATTACKER, ELSEWHERE = "192.0.2.10", "198.51.100.66", "203.0.113.5"


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "DEFAULT_RATE_LIMIT": 1000,
        "LOGIN_RATE_LIMIT": PAIR,
        "LOGIN_ACCOUNT_RATE_LIMIT": ACCOUNT,
        "LOGIN_ADDRESS_RATE_LIMIT": ADDRESS,
        "REGISTER_RATE_LIMIT": REGISTRATIONS,
    }


@pytest.fixture
def alice(make_user):
    user, _ = make_user("alice", password=PASSWORD)
    return user


def login(client, username: str, password: str = "wrong-password", address: str = ATTACKER):
    return client.post(
        LOGIN,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def fail(client, username: str, times: int, address: str = ATTACKER) -> list[int]:
    return [login(client, username, address=address).status_code for _ in range(times)]


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response.get_json() == {
        "error": {"code": "rate_limited", "message": "Too many requests; slow down."}
    }
    assert response.headers["X-RateLimit-Remaining"] == "0"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60
    assert abs(int(response.headers["X-RateLimit-Reset"]) - (time.time() + retry_after)) <= 2


def test_the_defaults_are_the_contracts():
    config = load_config({"APP_ENV": "testing"})
    assert (
        config["LOGIN_RATE_LIMIT"],
        config["LOGIN_ACCOUNT_RATE_LIMIT"],
        config["LOGIN_ADDRESS_RATE_LIMIT"],
        config["REGISTER_RATE_LIMIT"],
    ) == (10, 100, 30, 10)


def test_successful_logins_are_never_counted(client, alice):
    statuses = [login(client, "alice", PASSWORD).status_code for _ in range(ACCOUNT + 2)]
    assert statuses == [200] * (ACCOUNT + 2)


def test_an_address_gets_the_limit_of_failures_for_an_account(client, alice):
    assert fail(client, "alice", PAIR + 1) == [401] * PAIR + [429]


def test_once_over_budget_the_right_password_from_that_address_is_refused(client, alice):
    fail(client, "alice", PAIR)
    response = login(client, "alice", PASSWORD)
    assert_throttled(response)
    assert response.headers["X-RateLimit-Limit"] == str(PAIR)


def test_the_owner_still_logs_in_from_another_address(client, alice):
    fail(client, "alice", PAIR + 3)
    assert login(client, "alice", PASSWORD, address=OWNER_ADDRESS).status_code == 200
    assert login(client, "alice", PASSWORD, address=ATTACKER).status_code == 429


def test_the_budget_comes_back_when_the_window_has_passed(client, alice, limiter_clock):
    fail(client, "alice", PAIR)
    limiter_clock.now += 59
    assert login(client, "alice", PASSWORD).status_code == 429
    limiter_clock.now += 2
    assert login(client, "alice", PASSWORD).status_code == 200


def test_username_and_email_in_any_case_are_one_account(client, alice):
    forms = ["alice", "ALICE@example.COM", "Alice", "alice@example.com"]
    assert len(forms) == ACCOUNT
    statuses = [fail(client, form, 1, f"198.51.100.{n}")[0] for n, form in enumerate(forms)]
    assert statuses == [401] * ACCOUNT
    assert login(client, "alice", PASSWORD, address=OWNER_ADDRESS).status_code == 429


def test_validation_errors_are_not_failed_logins(client, alice):
    for _ in range(PAIR + 1):
        response = client.post(
            LOGIN, json={"username": "alice"}, environ_base={"REMOTE_ADDR": ATTACKER}
        )
        assert response.status_code == 422
    assert login(client, "alice", PASSWORD).status_code == 200


def test_the_account_ceiling_holds_over_every_address(client, alice):
    addresses = [f"198.51.100.{n}" for n in range(ACCOUNT)]
    assert [fail(client, "alice", 1, address)[0] for address in addresses] == [401] * ACCOUNT
    response = login(client, "alice", PASSWORD, address=OWNER_ADDRESS)
    assert_throttled(response)
    assert response.headers["X-RateLimit-Limit"] == str(ACCOUNT)


def test_one_address_spraying_many_accounts_is_stopped(client, make_user):
    for n in range(ADDRESS + 1):
        make_user(f"victim{n}", password=PASSWORD)
    assert [fail(client, f"victim{n}", 1)[0] for n in range(ADDRESS)] == [401] * ADDRESS
    response = login(client, f"victim{ADDRESS}", PASSWORD)
    assert_throttled(response)
    assert response.headers["X-RateLimit-Limit"] == str(ADDRESS)
    assert login(client, f"victim{ADDRESS}", PASSWORD, address=ELSEWHERE).status_code == 200


def observed(response) -> tuple:
    """Everything a client sees of a login answer, but the request id."""
    headers = {
        name: response.headers.get(name)
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "Retry-After")
    }
    return response.status_code, response.get_json(), headers


def test_an_unknown_login_is_throttled_exactly_like_an_account(client, alice, limiter_clock):
    def attempts(username: str, attacker: str) -> list[tuple]:
        answers = [observed(login(client, username, address=attacker)) for _ in range(PAIR + 1)]
        answers.append(observed(login(client, username, address=OWNER_ADDRESS)))
        return answers

    known = attempts("alice", "198.51.100.1")
    unknown = attempts("nobody-here", "198.51.100.2")
    assert [status for status, _, _ in known] == [401] * PAIR + [429, 401]
    assert unknown == known


def test_an_unknown_login_is_one_budget_in_any_case(client):
    assert fail(client, "Ghost", PAIR) == [401] * PAIR
    assert login(client, "gHOST").status_code == 429


def test_preflights_are_never_refused(client, alice):
    fail(client, "alice", PAIR)
    preflight = client.options(
        LOGIN,
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        environ_base={"REMOTE_ADDR": ATTACKER},
    )
    assert 200 <= preflight.status_code < 300  # (200 or 204, as the app answers preflights)


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,
        '{"username": "\\ud800x", "password": "x"}',
        '{"username": 5, "password": "x"}',
        "not json",
    ],
    ids=["nested too deep", "lone surrogate", "not a string", "not json"],
)
def test_a_body_the_view_refuses_names_no_account_and_never_fails(app, body):
    """The key is read before the view validates the body, so it must survive any body."""
    with app.test_request_context(LOGIN, method="POST", data=body, content_type="application/json"):
        assert attempted_account() == NO_LOGIN


def register(client, username: str, address: str = ATTACKER):
    return client.post(
        REGISTER,
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": address},
    )


def test_registration_counts_every_attempt_per_address(client):
    assert register(client, "first").status_code == 201
    assert register(client, "first").status_code == 409
    response = register(client, "second")
    assert_throttled(response)
    assert response.headers["X-RateLimit-Limit"] == str(REGISTRATIONS)
    assert register(client, "second", address=ELSEWHERE).status_code == 201


def test_limits_are_off_when_disabled(app_config):
    client = create_app({**app_config, "RATELIMIT_ENABLED": False}).test_client()
    assert fail(client, "alice", PAIR + ACCOUNT) == [401] * (PAIR + ACCOUNT)
    assert [register(client, f"user{n}").status_code for n in range(3)] == [201] * 3
