"""The `templates` collection: the shared catalog of templates and every query on it.

A template document:
    {_id, templateid, name, name_lc, description, content, created_by, version, created, modified}
`templateid` (a UUID4 string) is the public key; `_id` only orders keyset pages. `name_lc` is the
case-folded name that `q` (a name prefix) and the `name` sorts use. `version` counts writes
(stores/versioned.py, the one conditional-write path).
`created_by` is the caller that created the template: `{"type": "user", "id", "username"}` or
`{"type": "api_key", "id", "owner"}` (an API key's public id, never the key).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection as Versions
from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from core import clock
from core.text import fold
from db import get_db
from stores.insert_once import insert_once
from stores.keyset import ASCENDING, DESCENDING, Page, PageQuery, SortOrder, find_page
from stores.text_match import prefix_range
from stores.versioned import delete_versioned, update_versioned

# What a writable field is reset to by a full replace (PUT) or defaults to on create.
DEFAULTS: dict[str, Any] = {"description": "", "content": ""}

# The `sort` values of `GET /templates`; each is backed by a (field, _id) index in db.py.
SORTS = {
    "name": SortOrder("name_lc", ASCENDING),
    "-name": SortOrder("name_lc", DESCENDING),
    "created": SortOrder("created", ASCENDING),
    "-created": SortOrder("created", DESCENDING),
}
DEFAULT_SORT = "name"

TEMPLATE = "template"


def templates() -> Collection:
    return get_db().templates


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of validated writable fields: the normalised name added."""
    stored = dict(fields)
    if "name" in stored:
        stored["name_lc"] = fold(stored["name"])
    return stored


def build_template_document(
    fields: Mapping[str, Any], created_by: Mapping[str, str], object_id: ObjectId | None = None
) -> dict[str, Any]:
    """A new template from validated fields (missing optional ones take their defaults), with the
    `_id` given (a retried create's, see stores/insert_once.py) or a new one."""
    now = clock.utcnow()
    return {
        "_id": object_id or ObjectId(),
        "templateid": str(uuid.uuid4()),
        **_stored({**DEFAULTS, **fields}),
        "created_by": dict(created_by),
        "version": 1,
        "created": now,
        "modified": now,
    }


def insert_template(document: dict[str, Any]) -> dict[str, Any]:
    return insert_once(templates(), document)


def find_template(templateid: str) -> dict[str, Any] | None:
    return templates().find_one({"templateid": templateid})


def replace_template(
    templateid: str, fields: Mapping[str, Any], if_versions: Versions[int] | None = None
) -> dict[str, Any]:
    """Full replace (PUT): every writable field is set, missing optional ones to their defaults."""
    return _write(templateid, _stored({**DEFAULTS, **fields}), if_versions)


def update_template(
    templateid: str, changes: Mapping[str, Any], if_versions: Versions[int] | None = None
) -> dict[str, Any]:
    """Partial update (PATCH): only the given fields change."""
    return _write(templateid, _stored(changes), if_versions)


def _write(
    templateid: str, changes: Mapping[str, Any], if_versions: Versions[int] | None
) -> dict[str, Any]:
    scope = {"templateid": templateid}
    return update_versioned(
        templates(),
        scope,
        changes,
        what=TEMPLATE,
        key=templateid,
        stamp="modified",
        if_versions=if_versions,
    )


def delete_template(templateid: str, if_versions: Versions[int] | None = None) -> None:
    """Delete a template (only at one of `if_versions`, when given)."""
    scope = {"templateid": templateid}
    delete_versioned(templates(), scope, what=TEMPLATE, key=templateid, if_versions=if_versions)


def list_filter(name_prefix: str = "") -> dict[str, Any]:
    """The MongoDB filter of a template list: everything, or the names starting with a prefix.

    The prefix is a plain string range, so it is matched literally and an index on `name_lc`
    serves it.
    """
    if not name_prefix:
        return {}
    return {"name_lc": prefix_range(fold(name_prefix))}


def list_templates(page: PageQuery, name_prefix: str = "") -> Page:
    """One page of the catalog, or of the templates whose name starts with `name_prefix`."""
    return find_page(templates(), list_filter(name_prefix), page)
