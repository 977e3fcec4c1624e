"""`/todos`: each user's own todos, with ETags and conditional writes, filters and pagination.

Every store call carries the caller's id, so another user's todo is a 404 like a missing one.
ETags and `If-Match` follow web/conditional.py.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from flask import url_for
from flask_restful import Resource

from resources.caller import access_token_required
from resources.idempotency import created_id, idempotent
from schemas.pagination import sortable
from schemas.todos import TodoInputSchema, TodoListArgs, render_todo
from services.tokens import current_claims, current_user_id
from stores.exceptions import NotFound
from stores.todos import (
    DEFAULT_SORT,
    SORTS,
    TODO,
    build_todo_document,
    delete_todo,
    find_todo,
    insert_todo,
    list_sorts,
    list_todos,
    replace_todo,
    update_todo,
)
from web.conditional import empty_response, etag_value, if_match_versions, not_modified
from web.openapi import Creates
from web.pagination import page_request, page_response
from web.parsing import use_body, use_query

LIST_ARGS = sortable(TodoListArgs, SORTS, DEFAULT_SORT)


def etag_header(todo: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{etag_value(todo["_id"], todo["version"])}"'}


class TodoList(Resource):
    creates = Creates("api.todo", "id")  # links from the 201 in the OpenAPI document
    method_decorators = [access_token_required]

    @use_query(LIST_ARGS)
    def get(self, args):
        """List my todos.
        ---
        responses:
          200: {description: One page of todos, content: {application/json: {schema: TodoPage}}}
        """
        page = page_request(args, list_sorts(args["title_prefix"]))
        filters = {name: args[name] for name in ("done", "tags", "title_prefix") if name in args}
        todos = list_todos(current_user_id(), page.query, **filters)
        body, headers = page_response(page, todos, render_todo)
        return body, 200, headers

    @idempotent
    @use_body(TodoInputSchema())
    def post(self, data):
        """Create a todo.

        The caller owns it.
        ---
        responses:
          201:
            description: The created todo
            headers:
              Location: {schema: {type: string}}
              ETag: {schema: {type: string}}
            content: {application/json: {schema: TodoSchema}}
        """
        owner_username = current_claims()["username"]
        document = build_todo_document(current_user_id(), owner_username, data, created_id())
        todo = insert_todo(document)
        location = url_for("api.todo", todo_id=todo["_id"])
        return render_todo(todo), 201, {"Location": location, **etag_header(todo)}


class Todo(Resource):
    method_decorators = [access_token_required]
    conditional = True  # ETags and If-Match / If-None-Match (web/conditional.py)
    item_schema = "TodoSchema"  # what GET, PUT and PATCH answer (documented)

    def get(self, todo_id: ObjectId):
        """Read a todo.

        `If-None-Match` with its ETag answers 304.
        ---
        responses:
          200:
            description: The todo
            content: {application/json: {schema: TodoSchema}}
        """
        todo = find_todo(current_user_id(), todo_id)
        if todo is None:
            raise NotFound(TODO)
        headers = etag_header(todo)
        if not_modified(etag_value(todo["_id"], todo["version"])):
            return empty_response(304, headers)
        return render_todo(todo), 200, headers

    @use_body(TodoInputSchema())
    def put(self, data, todo_id: ObjectId):
        """Replace a todo.

        Every writable field is set; optional ones left out reset to their defaults.
        """
        todo = replace_todo(current_user_id(), todo_id, data, if_match_versions(todo_id))
        return render_todo(todo), 200, etag_header(todo)

    @use_body(TodoInputSchema(partial=True))
    def patch(self, changes, todo_id: ObjectId):
        """Update a todo.

        Only the given fields change.
        """
        todo = update_todo(current_user_id(), todo_id, changes, if_match_versions(todo_id))
        return render_todo(todo), 200, etag_header(todo)

    def delete(self, todo_id: ObjectId):
        """Delete a todo.
        ---
        responses:
          204: {description: Deleted}
        """
        delete_todo(current_user_id(), todo_id, if_match_versions(todo_id))
        return empty_response(204)


def register(api) -> None:
    api.add_resource(TodoList, "/todos", endpoint="todos")
    api.add_resource(Todo, "/todos/<objectid:todo_id>", endpoint="todo")
