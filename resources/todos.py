"""`/todos`: each user's own todos, with ETags and conditional writes, filters and pagination.

Every store call carries the caller's id, so another user's todo is a 404 like a missing one.
The ETag is the todo's id and stored write counter (`version`), so it costs no hashing; an
`If-Match` on PUT, PATCH or DELETE becomes part of the write's own MongoDB filter.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from flask import request, url_for
from flask_jwt_extended import jwt_required
from flask_restful import Resource

from schemas.base import parse_body
from schemas.todos import parse_list_filters, render_todo, todo_input_schema
from services.tokens import current_claims, current_user_id
from stores.exceptions import NotFound
from stores.todos import (
    DEFAULT_SORT,
    TODO,
    build_todo_document,
    delete_todo,
    find_todo,
    insert_todo,
    list_filter,
    list_sorts,
    replace_todo,
    todos,
    update_todo,
)
from web.conditional import empty_response, etag_value, if_match_versions, not_modified
from web.pagination import paginate, parse_page_request


def etag_header(todo: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{etag_value(todo["_id"], todo["version"])}"'}


class TodoList(Resource):
    method_decorators = [jwt_required()]

    def get(self):
        """List the caller's todos.
        ---
        summary: List my todos
        tags: [todos]
        security: [{bearerAuth: []}]
        parameters:
          - {in: query, name: done, schema: {type: string, enum: ['true', 'false']}}
          - {in: query, name: tag, schema: {type: string}, description: 'Todos carrying this tag (repeat for all of several)'}
          - {in: query, name: q, schema: {type: string}, description: Case-insensitive prefix of the title}
          - {in: query, name: sort, schema: {type: string, enum: ['-created', created, due, '-due', title], default: '-created'}}
          - {$ref: '#/components/parameters/limit'}
          - {$ref: '#/components/parameters/cursor'}
          - {$ref: '#/components/parameters/page'}
          - {$ref: '#/components/parameters/per_page'}
        responses:
          200: {description: One page of todos, content: {application/json: {schema: TodoPage}}}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        filters = parse_list_filters(request.args)
        page_request = parse_page_request(list_sorts(filters["title_prefix"]), DEFAULT_SORT)
        query = list_filter(current_user_id(), **filters)
        body, headers = paginate(todos(), query, page_request, render_todo)
        return body, 200, headers

    def post(self):
        """Create a todo owned by the caller.
        ---
        summary: Create a todo
        tags: [todos]
        security: [{bearerAuth: []}]
        requestBody:
          required: true
          content: {application/json: {schema: TodoInputSchema}}
        responses:
          201:
            description: The created todo
            headers:
              Location: {schema: {type: string}}
              ETag: {schema: {type: string}}
            content: {application/json: {schema: TodoSchema}}
          401: {$ref: '#/components/responses/Unauthorized'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        data = parse_body(todo_input_schema)
        owner_username = current_claims()["username"]
        todo = insert_todo(build_todo_document(current_user_id(), owner_username, data))
        location = url_for("api.todo", todo_id=todo["_id"])
        return render_todo(todo), 201, {"Location": location, **etag_header(todo)}


class Todo(Resource):
    method_decorators = [jwt_required()]

    def get(self, todo_id: ObjectId):
        """Read one of the caller's todos; `If-None-Match` with its ETag answers 304.
        ---
        summary: Read a todo
        tags: [todos]
        security: [{bearerAuth: []}]
        parameters:
          - {in: path, name: todo_id, required: true, schema: {type: string}}
          - {in: header, name: If-None-Match, schema: {type: string}}
        responses:
          200:
            description: The todo
            headers: {ETag: {schema: {type: string}}}
            content: {application/json: {schema: TodoSchema}}
          304: {description: Not modified since the ETag given}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        todo = find_todo(current_user_id(), todo_id)
        if todo is None:
            raise NotFound(TODO)
        headers = etag_header(todo)
        if not_modified(etag_value(todo["_id"], todo["version"])):
            return empty_response(304, headers)
        return render_todo(todo), 200, headers

    def put(self, todo_id: ObjectId):
        """Replace a todo: every writable field; optional ones left out reset to defaults.
        ---
        summary: Replace a todo
        tags: [todos]
        security: [{bearerAuth: []}]
        parameters:
          - {in: path, name: todo_id, required: true, schema: {type: string}}
          - {in: header, name: If-Match, schema: {type: string}}
        requestBody:
          required: true
          content: {application/json: {schema: TodoInputSchema}}
        responses:
          200:
            description: The replaced todo
            headers: {ETag: {schema: {type: string}}}
            content: {application/json: {schema: TodoSchema}}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        data = parse_body(todo_input_schema)
        todo = replace_todo(current_user_id(), todo_id, data, if_match_versions(todo_id))
        return render_todo(todo), 200, etag_header(todo)

    def patch(self, todo_id: ObjectId):
        """Change the given fields of a todo.
        ---
        summary: Update a todo
        tags: [todos]
        security: [{bearerAuth: []}]
        parameters:
          - {in: path, name: todo_id, required: true, schema: {type: string}}
          - {in: header, name: If-Match, schema: {type: string}}
        requestBody:
          required: true
          content: {application/json: {schema: TodoPatch}}
        responses:
          200:
            description: The updated todo
            headers: {ETag: {schema: {type: string}}}
            content: {application/json: {schema: TodoSchema}}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        changes = parse_body(todo_input_schema, partial=True)
        todo = update_todo(current_user_id(), todo_id, changes, if_match_versions(todo_id))
        return render_todo(todo), 200, etag_header(todo)

    def delete(self, todo_id: ObjectId):
        """Delete a todo.
        ---
        summary: Delete a todo
        tags: [todos]
        security: [{bearerAuth: []}]
        parameters:
          - {in: path, name: todo_id, required: true, schema: {type: string}}
          - {in: header, name: If-Match, schema: {type: string}}
        responses:
          204: {description: Deleted}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
        """
        delete_todo(current_user_id(), todo_id, if_match_versions(todo_id))
        return empty_response(204)


def register(api) -> None:
    api.add_resource(TodoList, "/todos", endpoint="todos")
    api.add_resource(Todo, "/todos/<objectid:todo_id>", endpoint="todo")
