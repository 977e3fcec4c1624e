"""Password hashing with argon2id (argon2-cffi).

Production uses argon2-cffi's default profile (RFC 9106's low-memory one). `APP_ENV=testing`
uses its CHEAPEST profile, still argon2id, so a test suite that registers hundreds of users does
not spend minutes hashing; the profile is a setting (`PASSWORD_HASH_PROFILE`), refused in
production.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


@cache
def hasher_for(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile))


def hasher() -> PasswordHasher:
    return hasher_for(current_app.config["PASSWORD_HASH_PROFILE"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


@cache
def _dummy_hash(profile: str) -> str:
    """A real hash to verify against when the user does not exist, so both cases cost the same."""
    return hasher_for(profile).hash("not-a-real-password-only-spends-time")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing user (`None`) costs one verification all the same."""
    profile = current_app.config["PASSWORD_HASH_PROFILE"]
    try:
        matches = hasher().verify(password_hash or _dummy_hash(profile), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    return hasher().check_needs_rehash(password_hash)
