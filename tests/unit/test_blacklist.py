"""The Redis blocklist: what each revocation blocks, token generations, refresh claims, and that
entries expire with the tokens."""

from __future__ import annotations

import time

import pytest

import blacklist
from extensions import get_redis


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def claims(jti="j1", sid="s1", sub="u1", iat=None, exp=None, type="access", gen=None):
    now = int(time.time())
    token = {
        "jti": jti,
        "sid": sid,
        "sub": sub,
        "iat": iat or now,
        "exp": exp or now + 900,
        "type": type,
    }
    if gen is not None:
        token["gen"] = gen
    return token


def test_fresh_token_is_not_revoked(ctx):
    assert blacklist.is_revoked(claims()) is False


def test_revoked_session_blocks_all_its_tokens_only(ctx):
    blacklist.revoke_session("s1", time.time() + 60)
    assert blacklist.is_revoked(claims(jti="a", sid="s1"))
    assert blacklist.is_revoked(claims(jti="b", sid="s1", type="refresh"))
    assert not blacklist.is_revoked(claims(jti="c", sid="s2"))


def test_claiming_a_refresh_token_works_once_until_released(ctx):
    assert blacklist.claim_refresh_token("r1", 30) is True
    assert blacklist.claim_refresh_token("r1", 30) is False
    blacklist.release_refresh_token("r1")
    assert blacklist.claim_refresh_token("r1", 30) is True


def test_a_claimed_refresh_token_is_not_revoked_by_itself(ctx):
    """Within the grace a retry of the same refresh token must reach the refresh, which
    answers the pair; only the refresh decides that a replaced token means reuse."""
    blacklist.claim_refresh_token("r1", 30)
    assert not blacklist.is_revoked(claims(jti="r1", sid="s9", type="refresh"))


def cutoff(gen, keep=None, keep_from=None):
    return {"gen": gen, "keep": keep, "keep_from": keep_from}


def test_generation_cutoff_blocks_older_generations_only(ctx):
    blacklist.publish_token_generation("u1", cutoff(3), 3600)
    assert blacklist.is_revoked(claims(sub="u1", gen=2))
    assert blacklist.is_revoked(claims(sub="u1"))  # a token without a generation is older
    assert not blacklist.is_revoked(claims(sub="u1", gen=3))
    assert not blacklist.is_revoked(claims(sub="u2", gen=0))


def test_generation_cutoff_ignores_issue_times(ctx):
    """Issued in the same second as the change, or a second later: only the generation counts."""
    blacklist.publish_token_generation("u1", cutoff(1), 3600)
    now = int(time.time())
    assert not blacklist.is_revoked(claims(sub="u1", gen=1, iat=now))
    assert blacklist.is_revoked(claims(sub="u1", gen=0, iat=now + 1))


def test_generation_cutoff_can_spare_one_session_from_its_generation(ctx):
    blacklist.publish_token_generation("u1", cutoff(5, keep="mine", keep_from=4), 3600)
    assert not blacklist.is_revoked(claims(sub="u1", sid="mine", gen=4))
    assert blacklist.is_revoked(claims(sub="u1", sid="mine", gen=3))
    assert blacklist.is_revoked(claims(sub="u1", sid="theirs", gen=4))


def test_publishing_keeps_the_latest_generation(ctx):
    """Two changes may publish out of order: the later generation stays."""
    blacklist.publish_token_generation("u1", cutoff(2), 3600)
    blacklist.publish_token_generation("u1", cutoff(1, keep="mine", keep_from=0), 3600)
    assert blacklist.is_revoked(claims(sub="u1", sid="mine", gen=1))
    assert not blacklist.is_revoked(claims(sub="u1", gen=2))


def test_refreshed_pair_is_recalled_while_the_grace_lasts(ctx):
    pair = {"access_token": "a", "refresh_token": "r", "token_type": "Bearer", "expires_in": 9}
    blacklist.remember_refreshed_pair("r1", pair, 10)
    blacklist.remember_refreshed_pair("r2", pair, 0)  # no grace: nothing kept
    assert blacklist.recall_refreshed_pair("r1") == pair
    assert blacklist.recall_refreshed_pair("r2") is None
    assert 9 <= get_redis().ttl("refreshed:r1") <= 10


def test_entries_expire_with_the_tokens_they_block(ctx):
    blacklist.revoke_session("s1", time.time() + 120)
    blacklist.claim_refresh_token("r1", 30)
    blacklist.publish_token_generation("u1", cutoff(1), 600)
    redis = get_redis()
    assert 110 <= redis.ttl("revoked:sid:s1") <= 120
    assert 20 <= redis.ttl("refreshing:r1") <= 30
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
