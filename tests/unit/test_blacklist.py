"""The Redis blocklist: what each revocation blocks, and that entries expire with the tokens."""

from __future__ import annotations

import time

import pytest

import blacklist
from extensions import get_redis


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def claims(jti="j1", sid="s1", sub="u1", iat=None, exp=None, type="access"):
    now = int(time.time())
    return {
        "jti": jti,
        "sid": sid,
        "sub": sub,
        "iat": iat or now,
        "exp": exp or now + 900,
        "type": type,
    }


def test_fresh_token_is_not_revoked(ctx):
    assert blacklist.is_revoked(claims()) is False


def test_revoked_session_blocks_all_its_tokens_only(ctx):
    blacklist.revoke_session("s1", time.time() + 60)
    assert blacklist.is_revoked(claims(jti="a", sid="s1"))
    assert blacklist.is_revoked(claims(jti="b", sid="s1", type="refresh"))
    assert not blacklist.is_revoked(claims(jti="c", sid="s2"))


def test_spending_a_refresh_token_works_once(ctx):
    assert blacklist.spend_refresh_token("r1", time.time() + 60) is True
    assert blacklist.spend_refresh_token("r1", time.time() + 60) is False


def test_presenting_a_spent_refresh_token_revokes_its_session(ctx):
    blacklist.spend_refresh_token("r1", time.time() + 60)
    assert blacklist.is_revoked(claims(jti="r1", sid="s9", type="refresh"))
    assert blacklist.is_revoked(claims(jti="other-access", sid="s9"))


def test_user_cutoff_blocks_tokens_issued_until_now(ctx):
    blacklist.revoke_user_tokens("u1", 3600)
    assert blacklist.is_revoked(claims(sub="u1", iat=int(time.time())))
    assert not blacklist.is_revoked(claims(sub="u1", iat=int(time.time()) + 5))
    assert not blacklist.is_revoked(claims(sub="u2"))


def test_user_cutoff_can_spare_one_session(ctx):
    blacklist.revoke_user_tokens("u1", 3600, keep_session="mine")
    assert not blacklist.is_revoked(claims(sub="u1", sid="mine"))
    assert blacklist.is_revoked(claims(sub="u1", sid="theirs"))


def test_entries_expire_with_the_tokens_they_block(ctx):
    blacklist.revoke_session("s1", time.time() + 120)
    blacklist.spend_refresh_token("r1", time.time() + 30)
    blacklist.revoke_user_tokens("u1", 600)
    redis = get_redis()
    assert 110 <= redis.ttl("revoked:sid:s1") <= 120
    assert 20 <= redis.ttl("revoked:jti:r1") <= 30
    assert 590 <= redis.ttl("revoked:user:u1") <= 600


def test_a_check_is_one_redis_round_trip(ctx, monkeypatch):
    redis = get_redis()
    calls = []
    original = redis.execute_command

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(redis, "execute_command", counting)
    blacklist.is_revoked(claims())
    assert calls == ["MGET"]
