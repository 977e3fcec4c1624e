"""What a store raises when a write or a look-up cannot be done as asked.

Stores know nothing of HTTP: `errors.py` maps each of these to its status and the one error shape
(NotFound -> 404, Stale -> 412, Conflict and Busy -> 409).
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store exceptions; `what` names the kind of record ("todo", "user")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class NotFound(StoreError):
    """No such record, or not one the caller may see (the scope is part of the query)."""


class Stale(StoreError):
    """The record exists, but not at any of the versions the caller's `If-Match` named."""


class Busy(StoreError):
    """Another request held the record's write lock for longer than a writer waits."""


class Conflict(StoreError):
    """A unique field already holds this value in another record: `field` names it."""

    def __init__(self, what: str, field: str) -> None:
        super().__init__(what)
        self.field = field
