"""`flask --app run users seed` as an operator runs it, in a subprocess, against FerretDB."""

from __future__ import annotations

import os
import subprocess
import sys

import pymongo
import pytest

from tests.servers import REPO_ROOT

COUNT = 2000


def run_seed(mongo_uri: str, redis_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "MONGO_URI": mongo_uri,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "integration-secret-key-0123456789abcdef",
        "JWT_SECRET_KEY": "integration-jwt-secret-key-0123456789abcdef",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "run", "users", "seed", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def seeded_twice(mongo_uri: str, redis_url: str):
    """The seed command run twice with the same seed: (first run, second run, users left)."""
    first = run_seed(mongo_uri, redis_url, "--count", str(COUNT), "--seed", "3", "--batch", "700")
    second = run_seed(mongo_uri, redis_url, "--count", str(COUNT), "--seed", "3")
    with pymongo.MongoClient(mongo_uri) as client:
        users = list(client.get_default_database().users.find({}, {"username": 1}))
    return first, second, users


def test_seed_command_inserts_the_requested_users(seeded_twice):
    first, _, users = seeded_twice
    assert first.returncode == 0, first.stderr
    assert f"seeded {COUNT} users, skipped 0" in first.stdout
    assert len({user["username"] for user in users}) == COUNT


def test_seed_command_rerun_with_the_same_seed_skips_duplicates(seeded_twice):
    _, second, users = seeded_twice
    assert second.returncode == 0, second.stderr
    assert f"seeded 0 users, skipped {COUNT} already present" in second.stdout
    assert len(users) == COUNT
