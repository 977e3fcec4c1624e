"""API keys: their shape, hashed storage, the CLI (create, list, revoke), and the X-API-KEY guard."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

import services.api_keys as api_keys_service
from db import get_db
from services.api_keys import create_api_key, key_id_of, new_key
from tests.support import TEMPLATES

KEY_LINE = re.compile(r"^tk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$", re.MULTILINE)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api_key(app) -> tuple[dict, str]:
    with app.app_context():
        return create_api_key("ci-bot")


def secret_of(key: str) -> str:
    """The random part of `tk_<id>_<secret>` (which may itself hold `_`)."""
    return key.split("_", 2)[2]


def stored_keys(app) -> list[dict]:
    with app.app_context():
        return list(get_db().api_keys.find())


def cli_create(runner, owner: str = "ci-bot") -> str:
    result = runner.invoke(args=["apikeys", "create", "--owner", owner])
    assert result.exit_code == 0, result.output
    return KEY_LINE.search(result.stdout).group(0)


# --- the key itself -----------------------------------------------------------------------------


def test_a_key_has_a_prefix_an_id_and_256_random_bits():
    key_id, key = new_key()
    assert KEY_LINE.match(key)
    assert key.startswith(f"tk_{key_id}_")
    assert len(secret_of(key)) == 43  # token_urlsafe(32): 32 random bytes in base64url


def test_keys_are_all_different():
    assert len({new_key()[1] for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("1a2b3c4d", "1a2b3c4d"),
        ("tk_1a2b3c4d", "1a2b3c4d"),
        ("tk_1a2b3c4d_", "1a2b3c4d"),
        ("tk_1a2b3c4d_" + "x" * 43, "1a2b3c4d"),
        ("1a2b3c", None),
        ("zzzzzzzz", None),
        ("", None),
    ],
)
def test_revoke_accepts_an_id_a_prefix_or_a_whole_key(reference, expected):
    assert key_id_of(reference) == expected


def test_only_the_sha256_of_the_key_is_stored(app, api_key):
    key = api_key[1]
    (stored,) = stored_keys(app)
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    secret = secret_of(key)
    assert secret not in repr(stored)
    assert set(stored) == {
        "_id",
        "key_id",
        "key_hash",
        "owner",
        "created",
        "last_used",
        "revoked_at",
    }


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_create_prints_the_key_once_and_stores_its_hash(app, runner):
    result = runner.invoke(args=["apikeys", "create", "--owner", "billing-service"])
    assert result.exit_code == 0, result.output
    key = KEY_LINE.search(result.stdout).group(0)
    assert result.stdout.strip() == key  # stdout is only the key: `$(flask apikeys create ...)`
    assert "shown only once" in result.stderr
    (stored,) = stored_keys(app)
    assert stored["owner"] == "billing-service"
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()


def test_cli_created_key_opens_the_templates_api(client, runner):
    key = cli_create(runner)
    assert client.get(TEMPLATES, headers={"X-API-KEY": key}).status_code == 200


@pytest.mark.parametrize("owner", ["", "   ", "x" * 101])
def test_cli_create_refuses_a_blank_or_overlong_owner(app, runner, owner):
    result = runner.invoke(args=["apikeys", "create", "--owner", owner])
    assert result.exit_code != 0
    assert stored_keys(app) == []


def test_cli_create_requires_an_owner(runner):
    assert runner.invoke(args=["apikeys", "create"]).exit_code != 0


def test_cli_list_shows_ids_prefixes_owners_and_no_secret(runner):
    first, second = cli_create(runner, "alpha"), cli_create(runner, "beta")
    result = runner.invoke(args=["apikeys", "list"])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["ID", "PREFIX", "OWNER", "CREATED", "LAST", "USED", "REVOKED"]
    for key, owner, line in ((first, "alpha", lines[1]), (second, "beta", lines[2])):
        key_id = key.split("_")[1]
        assert line.split()[:3] == [key_id, f"tk_{key_id}_...", owner]
        assert secret_of(key) not in result.stdout


def test_cli_list_shows_last_use_and_revocation(client, runner):
    key = cli_create(runner)
    client.get(TEMPLATES, headers={"X-API-KEY": key})
    runner.invoke(args=["apikeys", "revoke", key.split("_")[1]])
    line = runner.invoke(args=["apikeys", "list"]).stdout.strip().splitlines()[1]
    created, last_used, revoked = line.split()[3:6]
    assert created.endswith("Z") and last_used.endswith("Z") and revoked.endswith("Z")


@pytest.mark.parametrize("form", ["id", "prefix", "whole key"])
def test_cli_revoke_makes_the_key_fail_from_the_next_request(client, runner, form):
    key = cli_create(runner)
    headers = {"X-API-KEY": key}
    assert client.get(TEMPLATES, headers=headers).status_code == 200
    key_id = key.split("_")[1]
    reference = {"id": key_id, "prefix": f"tk_{key_id}", "whole key": key}[form]
    result = runner.invoke(args=["apikeys", "revoke", reference])
    assert result.exit_code == 0, result.output
    assert "revoked" in result.stdout
    response = client.get(TEMPLATES, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_cli_revoke_of_an_unknown_key_fails(runner):
    cli_create(runner)
    result = runner.invoke(args=["apikeys", "revoke", "00000000"])
    assert result.exit_code != 0
    assert "no API key matches" in result.output


def test_revoking_twice_keeps_the_first_revocation_time(app, runner):
    key_id = cli_create(runner).split("_")[1]
    runner.invoke(args=["apikeys", "revoke", key_id])
    first = stored_keys(app)[0]["revoked_at"]
    assert runner.invoke(args=["apikeys", "revoke", key_id]).exit_code == 0
    assert stored_keys(app)[0]["revoked_at"] == first


# --- the guard ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "tk_00000000_" + "A" * 43,  # well-formed, unknown
        "not-a-key",
        "tk_" + "x" * 300,
    ],
)
def test_a_wrong_key_is_401_invalid_credentials(client, api_key, sent):
    response = client.get(TEMPLATES, headers={"X-API-KEY": sent})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_a_key_with_one_character_changed_is_refused(client, api_key):
    key = api_key[1]
    altered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert client.get(TEMPLATES, headers={"X-API-KEY": altered}).status_code == 401


def test_an_empty_key_header_is_401_unauthorized(client):
    response = client.get(TEMPLATES, headers={"X-API-KEY": ""})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_a_key_opens_only_the_templates_api(client, api_key):
    response = client.get("/api/v1/users/me", headers={"X-API-KEY": api_key[1]})
    assert response.status_code == 401


def test_first_use_records_last_used(app, client, api_key):
    client.get(TEMPLATES, headers={"X-API-KEY": api_key[1]})
    assert stored_keys(app)[0]["last_used"] is not None


def test_last_used_is_written_at_most_once_a_minute(app, client, api_key, clock):
    headers = {"X-API-KEY": api_key[1]}
    client.get(TEMPLATES, headers=headers)
    first = stored_keys(app)[0]["last_used"]

    clock.set(first + timedelta(seconds=59))
    client.get(TEMPLATES, headers=headers)
    assert stored_keys(app)[0]["last_used"] == first

    clock.set(first + timedelta(seconds=61))
    client.get(TEMPLATES, headers=headers)
    assert stored_keys(app)[0]["last_used"] == first + timedelta(seconds=61)


def test_verifying_a_key_is_one_lookup_per_request(client, api_key, monkeypatch):
    lookups = []
    real_find = api_keys_service.find_api_key_by_hash

    def counting_find(key_hash):
        lookups.append(key_hash)
        return real_find(key_hash)

    monkeypatch.setattr(api_keys_service, "find_api_key_by_hash", counting_find)
    assert client.get(TEMPLATES, headers={"X-API-KEY": api_key[1]}).status_code == 200
    assert len(lookups) == 1


def test_a_malformed_key_costs_no_lookup(client, monkeypatch):
    monkeypatch.setattr(
        api_keys_service,
        "find_api_key_by_hash",
        lambda _hash: pytest.fail("looked up a key that cannot exist"),
    )
    assert client.get(TEMPLATES, headers={"X-API-KEY": "garbage"}).status_code == 401
