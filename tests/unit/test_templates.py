"""`/templates`: CRUD with a JWT or an API key, validation, conditional requests, lists, and the
coherent read cache, on the in-process stand-ins."""

from __future__ import annotations

import uuid

import pytest

from db import get_db
from services import template_cache
from services.api_keys import create_api_key
from stores.templates import find_template, update_template
from tests.support import TEMPLATES


def item(templateid: str) -> str:
    return f"{TEMPLATES}/{templateid}"


@pytest.fixture
def headers(user, auth_headers):
    return auth_headers(user)


@pytest.fixture
def api_key(app) -> tuple[dict, str]:
    with app.app_context():
        return create_api_key("ci-bot")


@pytest.fixture
def key_headers(api_key):
    return {"X-API-KEY": api_key[1]}


@pytest.fixture
def create(client, headers):
    """Factory: POST a template (as the JWT user) and return its body."""

    def make(**fields):
        body = {"name": "Welcome mail", **fields}
        response = client.post(TEMPLATES, json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def template(create):
    return create(description="Sent on signup", content="Hello {{name}}")


# --- create / read ------------------------------------------------------------------------------


def test_create_returns_201_location_and_the_template(client, headers):
    response = client.post(
        TEMPLATES, json={"name": "Invoice", "content": "Total: {{t}}"}, headers=headers
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {
        "templateid",
        "name",
        "description",
        "content",
        "created",
        "modified",
        "created_by",
    }
    assert uuid.UUID(body["templateid"]).version == 4
    assert response.headers["Location"] == item(body["templateid"])
    assert (body["name"], body["description"], body["content"]) == ("Invoice", "", "Total: {{t}}")
    assert body["created"].endswith("Z") and body["created"] == body["modified"]
    assert response.headers["ETag"]


def test_created_by_a_user_names_the_user(client, user, headers):
    body = client.post(TEMPLATES, json={"name": "A"}, headers=headers).get_json()
    assert body["created_by"] == {"type": "user", "id": str(user["_id"]), "username": "user1"}


def test_created_by_an_api_key_names_its_id_and_owner_never_the_key(client, api_key, key_headers):
    document, key = api_key
    response = client.post(TEMPLATES, json={"name": "A"}, headers=key_headers)
    assert response.status_code == 201
    created_by = response.get_json()["created_by"]
    assert created_by == {"type": "api_key", "id": document["key_id"], "owner": "ci-bot"}
    assert key not in response.get_data(as_text=True)


def test_get_returns_the_template_with_etag_and_cache_control(client, headers, template):
    response = client.get(item(template["templateid"]), headers=headers)
    assert response.status_code == 200
    assert response.get_json() == template
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_api_key_reads_what_a_user_wrote(client, key_headers, template):
    response = client.get(item(template["templateid"]), headers=key_headers)
    assert response.status_code == 200
    assert response.get_json() == template


def test_if_none_match_with_the_current_etag_is_304_without_body(client, headers, template):
    url = item(template["templateid"])
    etag = client.get(url, headers=headers).headers["ETag"]
    response = client.get(url, headers={**headers, "If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_if_none_match_with_an_old_etag_is_200(client, headers, template):
    url = item(template["templateid"])
    old = client.get(url, headers=headers).headers["ETag"]
    client.patch(url, json={"name": "Renamed"}, headers=headers)
    response = client.get(url, headers={**headers, "If-None-Match": old})
    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
    assert response.headers["ETag"] != old


@pytest.mark.parametrize(
    "templateid",
    [
        str(uuid.uuid4()),  # well-formed, unknown
        "not-a-uuid",
        str(uuid.uuid1()),  # a UUID, but not version 4
        "5f1d7c1e2b3a4c5d6e7f8091",  # an ObjectId
        str(uuid.uuid4()).replace("-", ""),
    ],
)
def test_unknown_or_malformed_templateid_is_404(client, headers, templateid):
    response = client.get(item(templateid), headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_uppercase_templateid_finds_the_template(client, headers, template):
    response = client.get(item(template["templateid"].upper()), headers=headers)
    assert response.status_code == 200
    assert response.get_json()["templateid"] == template["templateid"]


# --- replace / update / delete ------------------------------------------------------------------


def test_put_replaces_every_field_resetting_the_missing_ones(client, headers, template):
    response = client.put(item(template["templateid"]), json={"name": "New"}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["description"], body["content"]) == ("New", "", "")
    assert body["created"] == template["created"]
    assert body["created_by"] == template["created_by"]
    assert body["modified"] >= template["modified"]


def test_patch_changes_only_the_given_fields(client, headers, template):
    response = client.patch(
        item(template["templateid"]), json={"content": "Hi {{name}}"}, headers=headers
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["content"] == "Hi {{name}}"
    assert (body["name"], body["description"]) == (template["name"], template["description"])


def test_writes_change_the_etag(client, headers, template):
    url = item(template["templateid"])
    first = client.get(url, headers=headers).headers["ETag"]
    patched = client.patch(url, json={"name": "B"}, headers=headers)
    assert patched.headers["ETag"] != first
    assert client.get(url, headers=headers).headers["ETag"] == patched.headers["ETag"]


def test_any_authenticated_caller_may_edit_a_shared_template(
    client, make_user, auth_headers, key_headers, template
):
    other = auth_headers(make_user("other")[0])
    url = item(template["templateid"])
    assert client.patch(url, json={"name": "By other"}, headers=other).status_code == 200
    assert client.patch(url, json={"name": "By key"}, headers=key_headers).status_code == 200


def test_delete_is_204_without_body_and_the_template_is_gone(client, headers, template):
    url = item(template["templateid"])
    response = client.delete(url, headers=headers)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(url, headers=headers).status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_to_an_unknown_template_are_404(client, headers, method):
    kwargs = {} if method == "delete" else {"json": {"name": "X"}}
    response = getattr(client, method)(item(str(uuid.uuid4())), headers=headers, **kwargs)
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_stale_if_match_is_412_and_changes_nothing(client, headers, template, method):
    url = item(template["templateid"])
    stale = client.get(url, headers=headers).headers["ETag"]
    client.patch(url, json={"name": "Moved on"}, headers=headers)
    kwargs = {} if method == "delete" else {"json": {"name": "Lost update"}}
    response = getattr(client, method)(url, headers={**headers, "If-Match": stale}, **kwargs)
    assert response.status_code == 412
    assert response.get_json()["error"]["code"] == "precondition_failed"
    assert client.get(url, headers=headers).get_json()["name"] == "Moved on"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_current_if_match_lets_the_write_through(client, headers, template, method):
    url = item(template["templateid"])
    etag = client.get(url, headers=headers).headers["ETag"]
    response = getattr(client, method)(
        url, json={"name": "Fresh"}, headers={**headers, "If-Match": etag}
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "Fresh"


def test_if_match_star_accepts_any_version(client, headers, template):
    url = item(template["templateid"])
    response = client.delete(url, headers={**headers, "If-Match": "*"})
    assert response.status_code == 204


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": {"$ne": None}}, "name.$ne"),
        ({"name": "ok", "description": "x" * 2001}, "description"),
        ({"name": "ok", "description": None}, "description"),
        ({"name": "ok", "content": "x" * 100_001}, "content"),
        ({"name": "ok", "content": {"$gt": ""}}, "content.$gt"),
        ({"name": "ok", "templateid": str(uuid.uuid4())}, "templateid"),
        ({"name": "ok", "created_by": {"type": "user"}}, "created_by"),
        ({"name": "ok", "version": 7}, "version"),
        ({"name": "ok", "$set": {"name": "x"}}, "$set"),
        ({"name": "ok", "a.b": "x"}, "a.b"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(client, headers, body, field):
    response = client.post(TEMPLATES, json=body, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]


def test_longest_allowed_values_are_accepted(client, headers):
    body = {"name": "n" * 200, "description": "d" * 2000, "content": "c" * 100_000}
    response = client.post(TEMPLATES, json=body, headers=headers)
    assert response.status_code == 201
    assert len(response.get_json()["content"]) == 100_000


def test_put_without_name_is_422(client, headers, template):
    response = client.put(item(template["templateid"]), json={"content": "x"}, headers=headers)
    assert response.status_code == 422
    assert "name" in response.get_json()["error"]["details"]


def test_patch_with_nothing_to_change_is_422(client, headers, template):
    response = client.patch(item(template["templateid"]), json={}, headers=headers)
    assert response.status_code == 422


def test_patch_with_operator_keys_is_422_and_changes_nothing(client, headers, template):
    url = item(template["templateid"])
    response = client.patch(url, json={"$set": {"name": "pwned"}}, headers=headers)
    assert response.status_code == 422
    assert client.get(url, headers=headers).get_json()["name"] == template["name"]


def test_body_without_json_content_type_is_415(client, headers):
    response = client.post(TEMPLATES, data="name=x", headers=headers)
    assert response.status_code == 415


def test_unparsable_json_is_400(client, headers):
    response = client.post(
        TEMPLATES, data="{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


# --- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [TEMPLATES, item(str(uuid.uuid4()))])
def test_no_credentials_is_401_unauthorized(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_tampered_jwt_is_401_invalid_token(client, headers):
    token = headers["Authorization"] + "x"
    response = client.get(TEMPLATES, headers={"Authorization": token})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_refresh_token_is_refused(client, app, user):
    from services.tokens import issue_token_pair

    with app.app_context():
        refresh = issue_token_pair(user)["refresh_token"]
    response = client.get(TEMPLATES, headers={"Authorization": f"Bearer {refresh}"})
    assert response.status_code == 401


def test_bad_jwt_is_refused_even_with_a_valid_api_key(client, key_headers):
    response = client.get(TEMPLATES, headers={**key_headers, "Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


# --- lists --------------------------------------------------------------------------------------


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [t["name"] for t in response.get_json()["items"]]


def test_list_is_sorted_by_name_case_insensitively(client, headers, create):
    for name in ["banana", "Apple", "cherry"]:
        create(name=name)
    assert names(client.get(TEMPLATES, headers=headers)) == ["Apple", "banana", "cherry"]
    assert names(client.get(f"{TEMPLATES}?sort=-name", headers=headers)) == [
        "cherry",
        "banana",
        "Apple",
    ]


def test_list_sorted_by_created(client, headers, create):
    for name in ["b", "a", "c"]:
        create(name=name)
    assert names(client.get(f"{TEMPLATES}?sort=created", headers=headers)) == ["b", "a", "c"]
    assert names(client.get(f"{TEMPLATES}?sort=-created", headers=headers)) == ["c", "a", "b"]


def test_q_is_a_case_insensitive_name_prefix(client, headers, create):
    for name in ["Welcome", "welcome back", "Farewell", "A welcome"]:
        create(name=name)
    assert names(client.get(f"{TEMPLATES}?q=WELC", headers=headers)) == [
        "Welcome",
        "welcome back",
    ]


@pytest.mark.parametrize("q", [".*", "a+", "(", "[x", "\\", "$where"])
def test_q_is_matched_literally_never_as_a_pattern(client, headers, create, q):
    create(name="abc")
    create(name=f"{q}literal")
    assert names(client.get(TEMPLATES, query_string={"q": q}, headers=headers)) == [f"{q}literal"]


def test_q_longer_than_a_name_is_400(client, headers):
    response = client.get(TEMPLATES, query_string={"q": "x" * 201}, headers=headers)
    assert response.status_code == 400


def test_unknown_sort_is_400(client, headers):
    response = client.get(f"{TEMPLATES}?sort=content", headers=headers)
    assert response.status_code == 400


def test_cursor_pages_visit_every_template_once_even_with_equal_names(client, headers, create):
    created = {create(name=f"same {i % 2}")["templateid"] for i in range(7)}
    seen: list[str] = []
    url = f"{TEMPLATES}?limit=3"
    while url:
        page = client.get(url, headers=headers).get_json()
        seen += [t["templateid"] for t in page["items"]]
        url = page["links"].get("next")
    assert sorted(seen) == sorted(created)


def test_page_mode_reports_the_total(client, headers, create):
    for i in range(5):
        create(name=f"t{i}")
    body = client.get(f"{TEMPLATES}?page=2&per_page=2", headers=headers).get_json()
    assert [t["name"] for t in body["items"]] == ["t2", "t3"]
    assert body["meta"]["total"] == 5
    assert body["meta"]["page"] == 2


def test_list_works_with_an_api_key(client, key_headers, template):
    assert names(client.get(TEMPLATES, headers=key_headers)) == [template["name"]]


# --- cache --------------------------------------------------------------------------------------


def change_behind_the_apps_back(app, templateid: str, name: str) -> None:
    """Write to MongoDB without invalidating the cache: what a read then shows tells where it
    came from."""
    with app.app_context():
        get_db().templates.update_one({"templateid": templateid}, {"$set": {"name": name}})


def test_reads_are_served_from_the_cache(app, client, headers, template):
    url = item(template["templateid"])
    client.get(url, headers=headers)  # fills the cache
    change_behind_the_apps_back(app, template["templateid"], "only in MongoDB")
    assert client.get(url, headers=headers).get_json()["name"] == template["name"]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_read_after_a_write_sees_the_write(client, headers, template, method):
    url = item(template["templateid"])
    client.get(url, headers=headers)  # cached
    getattr(client, method)(url, json={"name": "Second"}, headers=headers)
    assert client.get(url, headers=headers).get_json()["name"] == "Second"


def test_a_read_after_a_delete_is_404(client, headers, template):
    url = item(template["templateid"])
    client.get(url, headers=headers)
    client.delete(url, headers=headers)
    assert client.get(url, headers=headers).status_code == 404


def read(app, templateid: str, load=None) -> template_cache.CachedTemplate | None:
    from resources.templates import template_etag
    from schemas.templates import render_template_object

    with app.test_request_context():
        return template_cache.read_template(
            templateid,
            load or (lambda: find_template(templateid)),
            render_template_object,
            template_etag,
        )


def test_second_read_is_a_cache_hit(app, template):
    assert read(app, template["templateid"]).from_cache is False
    assert read(app, template["templateid"]).from_cache is True


def test_a_reader_that_read_before_a_write_never_caches_the_old_version(app, template):
    """The race: a reader loads version 1, a writer stores version 2 and invalidates, and only
    then does the reader store what it loaded. Its copy must never be served."""
    templateid = template["templateid"]

    def load_then_lose_the_race():
        old = find_template(templateid)
        template_cache.invalidate(templateid)
        update_template(templateid, {"name": "Written meanwhile"})
        template_cache.forget(templateid)
        return old

    late = read(app, templateid, load_then_lose_the_race)
    assert late.body["name"] == template["name"]  # that reader answers what it read...
    after = read(app, templateid)
    assert after.body["name"] == "Written meanwhile"  # ...but nobody after it does
    assert after.from_cache is False


def test_a_read_between_a_writers_first_invalidation_and_its_write_is_not_served_after(
    app, client, headers, template, monkeypatch
):
    import resources.templates as resource

    real_update = resource.update_template

    def reader_slips_in_first(*args, **kwargs):
        read(app, template["templateid"])  # caches the old version under the new generation
        return real_update(*args, **kwargs)

    monkeypatch.setattr(resource, "update_template", reader_slips_in_first)
    url = item(template["templateid"])
    assert client.patch(url, json={"name": "Third"}, headers=headers).status_code == 200
    assert client.get(url, headers=headers).get_json()["name"] == "Third"


def test_a_lost_generation_makes_misses_not_stale_hits(app, template):
    templateid = template["templateid"]
    read(app, templateid)
    with app.app_context():
        from extensions import cache

        cache.delete(template_cache.generation_key(templateid))
    assert read(app, templateid).from_cache is False


@pytest.fixture
def unreachable_cache_config(app_config):
    return {**app_config, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": "redis://127.0.0.1:1/0"}


def test_an_unreachable_cache_makes_reads_503_not_500(unreachable_cache_config):
    from app import create_app

    app = create_app(unreachable_cache_config)
    with app.app_context():
        _document, key = create_api_key("bot")
        get_db().templates.insert_one(
            {"templateid": "0b4c9d8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "name": "x", "version": 1}
        )
    response = app.test_client().get(
        item("0b4c9d8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"), headers={"X-API-KEY": key}
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"


def test_an_unreachable_cache_makes_writes_503_before_changing_anything(unreachable_cache_config):
    from app import create_app

    app = create_app(unreachable_cache_config)
    templateid = "0b4c9d8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
    with app.app_context():
        _document, key = create_api_key("bot")
        get_db().templates.insert_one({"templateid": templateid, "name": "before", "version": 1})
    response = app.test_client().patch(
        item(templateid), json={"name": "after"}, headers={"X-API-KEY": key}
    )
    assert response.status_code == 503
    with app.app_context():
        assert find_template(templateid)["name"] == "before"
