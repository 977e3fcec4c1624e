"""What a service raises when a request cannot be served as asked.

Services know nothing of HTTP: `errors.py` maps each of these to its status and the one error
shape (SessionRevoked -> 401 `token_revoked`, RefreshInProgress -> 409 `request_in_progress`).
"""

from __future__ import annotations


class SessionRevoked(Exception):
    """A refresh token's login or account can no longer be refreshed."""


class RefreshInProgress(Exception):
    """Another request is still exchanging this refresh token: retry shortly for its pair."""
