"""Recognising a unique-index violation, whichever MongoDB-wire server reports it, and which
index it hit.

MongoDB raises DuplicateKeyError (code 11000) and names the index in its message
(`... index: email_lc_unique dup key: ...`). FerretDB 1.24 does the same on inserts but without
the index name; on updates (`update`, `findAndModify`) it raises a plain OperationFailure with
code 1 carrying SQLite's `UNIQUE constraint failed: index '<collection>_<hash>_<index name>'`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

DUPLICATE_KEY_CODE = 11000
MONGODB_INDEX = re.compile(r"index: (\S+) dup key")
FERRETDB_INDEX = re.compile(r"UNIQUE constraint failed: index '([^']+)'")


def violated_unique_index(error: OperationFailure, index_names: Iterable[str]) -> str | None:
    """Which of `index_names` the failed write violated: `""` when the error is a duplicate key
    on an index the server did not name, None when the error is not a duplicate key at all."""
    message = str(error)
    if isinstance(error, DuplicateKeyError) or error.code == DUPLICATE_KEY_CODE:
        match = MONGODB_INDEX.search(message)
    else:
        match = FERRETDB_INDEX.search(message)
        if match is None:
            return None
    if match is None:
        return ""
    reported = match.group(1)
    # FerretDB's SQLite index names end with ours, after the collection and a hash.
    for name in index_names:
        if reported == name or reported.endswith(f"_{name}"):
            return name
    return ""


def duplicates_only(error: BulkWriteError) -> list[dict]:
    """The write errors of an unordered bulk insert that only hit existing keys (a rerun);
    re-raises `error` when anything else failed."""
    details = error.details
    errors = details.get("writeErrors", [])
    if details.get("writeConcernErrors") or any(
        e.get("code") != DUPLICATE_KEY_CODE for e in errors
    ):
        raise error
    return errors
