"""A token is verified once per request: the rate limiter's identity verifies it, the view's guard
reuses what verified (resources/caller.py). Every refusal stays the 401 it was, whether the
limiter ran first or not."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    decode_token,
)

import blacklist
from app import create_app
from services.passwords import hash_password
from services.sessions import revoke_login
from stores.users import build_user_document, insert_user
from tests.support import LOGIN, ME, REFRESH, TEMPLATES, TODOS, bearer

REMAINING = "X-RateLimit-Remaining"


@pytest.fixture(params=[True, False], ids=["limiter on", "limiter off"])
def app_config(request, app_config):
    return {**app_config, "RATELIMIT_ENABLED": request.param, "DEFAULT_RATE_LIMIT": 1000}


@pytest.fixture
def decodes():
    """How many times a token is decoded (signature checked), and how often the blocklist is
    asked, while the test runs."""
    counts = {"decode": 0, "blocklist": 0}
    decode, is_revoked = JWTManager._decode_jwt_from_config, blacklist.is_revoked

    def counting_decode(self, *args, **kwargs):
        counts["decode"] += 1
        return decode(self, *args, **kwargs)

    def counting_is_revoked(claims):
        counts["blocklist"] += 1
        return is_revoked(claims)

    with (
        mock.patch.object(JWTManager, "_decode_jwt_from_config", counting_decode),
        mock.patch.object(blacklist, "is_revoked", counting_is_revoked),
    ):
        yield counts


@pytest.mark.parametrize("path", [ME, TODOS, TEMPLATES])
def test_an_authenticated_request_decodes_its_token_once(client, user, auth_headers, decodes, path):
    headers = auth_headers(user)
    assert client.get(path, headers=headers).status_code == 200
    assert decodes == {"decode": 1, "blocklist": 1}


def test_a_refresh_decodes_its_token_as_before(client, make_user, decodes):
    user, password = make_user()
    pair = client.post(LOGIN, json={"username": user["username"], "password": password}).get_json()
    decodes.update(decode=0, blocklist=0)
    assert client.post(REFRESH, headers=bearer(pair["refresh_token"])).status_code == 200
    # The limiter's identity tries it as an access token (its type refuses it before the
    # blocklist is asked), then the guard verifies it as a refresh token.
    limiter_on = client.application.config["RATELIMIT_ENABLED"]
    assert decodes == {"decode": 2 if limiter_on else 1, "blocklist": 1}


def refusals(app, user) -> dict[str, tuple[int, dict]]:
    """The answers to every kind of bad token, on `app`."""
    client = app.test_client()
    with app.app_context():
        claims = {"sid": "s1", "role": "user", "username": user["username"], "gen": 0}
        identity = str(user["_id"])
        expired = create_access_token(identity, additional_claims={**claims, "exp": 1})
        valid = create_access_token(identity, additional_claims=claims)
        revoked = create_access_token(identity, additional_claims={**claims, "sid": "gone"})
        blacklist.revoke_session("gone", time.time() + 60)
        other_key = create_access_token(identity, additional_claims=claims) + "x"
        refresh = create_refresh_token(identity, additional_claims=claims)
    cases = {
        "no header": (ME, {}),
        "not bearer": (ME, {"Authorization": "Basic abc"}),
        "garbage": (ME, bearer("garbage")),
        "bad signature": (ME, bearer(other_key)),
        "expired": (ME, bearer(expired)),
        "revoked": (ME, bearer(revoked)),
        "refresh token as access": (ME, bearer(refresh)),
        "access token at refresh": (REFRESH, bearer(valid)),
        "bad token beside an API key": (TEMPLATES, {**bearer("garbage"), "X-API-KEY": "k"}),
    }
    answers = {}
    for name, (path, headers) in cases.items():
        send = client.post if path == REFRESH else client.get
        response = send(path, headers=headers)
        answers[name] = (response.status_code, response.get_json())
    return answers


def test_every_refusal_is_the_same_401_with_the_limiter_first_or_not(app_config, user):
    """Both apps per parameter: the same answers whichever order the checks ran in."""
    with_limiter = create_app({**app_config, "RATELIMIT_ENABLED": True})
    without = create_app({**app_config, "RATELIMIT_ENABLED": False})
    limited, plain = refusals(with_limiter, user), refusals(without, user)
    assert limited == plain
    assert {status for status, _ in plain.values()} == {401}
    assert plain["expired"][1]["error"]["code"] == "token_expired"
    assert plain["revoked"][1]["error"]["code"] == "token_revoked"
    assert plain["garbage"][1]["error"]["code"] == "invalid_token"


def test_a_revoked_token_still_counts_against_its_user(app_config):
    app = create_app({**app_config, "RATELIMIT_ENABLED": True})
    client = app.test_client()
    with app.app_context():
        insert_user(build_user_document("carol", "carol@example.com", hash_password("pw-123456")))
    login = {"username": "carol", "password": "pw-123456"}
    first, second = (client.post(LOGIN, json=login).get_json() for _ in range(2))
    before = int(client.get(ME, headers=bearer(first["access_token"])).headers[REMAINING])
    with app.app_context():
        revoke_login(decode_token(second["access_token"])["sid"], "logout")
    refused = client.get(ME, headers=bearer(second["access_token"]))
    assert refused.get_json()["error"]["code"] == "token_revoked"
    after = int(client.get(ME, headers=bearer(first["access_token"])).headers[REMAINING])
    assert after == before - 2  # the refused request and this one, both on the user's budget
