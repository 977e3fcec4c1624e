"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """A real hash to verify against when the user does not exist, so both cases cost the same."""
    return hasher.hash("not-a-real-password-only-spends-time")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing user (`None`) costs one verification all the same."""
    try:
        return hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    return hasher.check_needs_rehash(password_hash)
