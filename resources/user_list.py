"""`GET /users`: list and search users (any authenticated caller).

Temporary home of `UserList` until it moves into resources/users.py.
"""

from __future__ import annotations

from flask import request
from flask_jwt_extended import jwt_required
from flask_restful import Resource

from pagination import parse_page_request
from schemas.user_search import parse_user_search
from schemas.users import render_user
from services.tokens import current_claims
from stores.user_search import DEFAULT_SORT, list_users, sorts_for


class UserList(Resource):
    method_decorators = [jwt_required()]

    def get(self):
        """List users, optionally those whose username or a name word starts with `q`.
        ---
        summary: List and search users
        tags: [users]
        security: [{bearerAuth: []}]
        parameters:
          - {in: query, name: q, schema: {type: string, maxLength: 100},
             description: Case-insensitive prefix of a username or of any word of a name}
          - {in: query, name: sort, schema: {type: string, default: username,
             enum: [username, -username, created, -created]}}
          - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 100, default: 20}}
          - {in: query, name: cursor, schema: {type: string}}
          - {in: query, name: page, schema: {type: integer, minimum: 1}}
          - {in: query, name: per_page, schema: {type: integer, minimum: 1, maximum: 100}}
        responses:
          200: {description: A page of users (email only for admins and the user themself)}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        q = parse_user_search(request.args)
        page_request = parse_page_request(sorts_for(q), DEFAULT_SORT)
        claims = current_claims()
        body, headers = list_users(q, page_request, lambda user: render_user(user, claims))
        return body, 200, headers


def register(api) -> None:
    api.add_resource(UserList, "/users")
