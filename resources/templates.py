"""`/templates`: the shared catalog of templates, for users (JWT) and machine clients (API key).

Who may change what: any authenticated caller may create, edit and delete any template. The
catalog is shared by design (the contract scopes templates to no one), and API keys are handed
out by operators through the CLI to trusted machine clients; `created_by` records who created
each template.

Single reads are served from the cache (services/template_cache.py), coherent with writes on
every worker. The ETag is the template's id and stored write counter (`version`), so it costs no
hashing, and an `If-Match` on PUT, PATCH or DELETE becomes part of the write's own MongoDB
filter (412 when stale). Reads say `Cache-Control: private, no-cache`: the response depends on
credentials, so shared proxies must not keep it, and clients revalidate with `If-None-Match`.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_restful import Resource

from schemas.base import parse_body
from schemas.templates import parse_name_prefix, render_template, template_input_schema
from services import template_cache
from services.api_keys import current_caller, jwt_or_api_key_required
from stores.exceptions import NotFound
from stores.templates import (
    DEFAULT_SORT,
    SORTS,
    TEMPLATE,
    build_template_document,
    delete_template,
    find_template,
    insert_template,
    list_filter,
    replace_template,
    templates,
    update_template,
)
from web.conditional import empty_response, etag_value, if_match_versions, not_modified
from web.pagination import paginate, parse_page_request

CACHE_CONTROL = "private, no-cache"


def template_etag(template: dict[str, Any]) -> str:
    return etag_value(template["templateid"], template["version"])


def read_headers(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"', "Cache-Control": CACHE_CONTROL}


def written(template: dict[str, Any], status: int = 200, **headers: str):
    """The answer to a write: the new template and its ETag."""
    return render_template(template), status, {**read_headers(template_etag(template)), **headers}


class TemplateList(Resource):
    method_decorators = [jwt_or_api_key_required]

    def get(self):
        """List the catalog's templates.
        ---
        summary: List templates
        tags: [templates]
        security: [{bearerAuth: []}, {apiKeyAuth: []}]
        parameters:
          - {in: query, name: q, schema: {type: string, maxLength: 200}, description: Case-insensitive prefix of the name}
          - {in: query, name: sort, schema: {type: string, enum: [name, '-name', created, '-created'], default: name}}
          - {$ref: '#/components/parameters/limit'}
          - {$ref: '#/components/parameters/cursor'}
          - {$ref: '#/components/parameters/page'}
          - {$ref: '#/components/parameters/per_page'}
        responses:
          200: {description: One page of templates, content: {application/json: {schema: TemplatePage}}}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        query = list_filter(parse_name_prefix(request.args))
        page_request = parse_page_request(SORTS, DEFAULT_SORT)
        body, headers = paginate(templates(), query, page_request, render_template)
        return body, 200, headers

    def post(self):
        """Add a template to the catalog.
        ---
        summary: Create a template
        tags: [templates]
        security: [{bearerAuth: []}, {apiKeyAuth: []}]
        requestBody:
          required: true
          content: {application/json: {schema: TemplateInputSchema}}
        responses:
          201:
            description: The created template
            headers:
              Location: {schema: {type: string}}
              ETag: {schema: {type: string}}
            content: {application/json: {schema: TemplateSchema}}
          401: {$ref: '#/components/responses/Unauthorized'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        data = parse_body(template_input_schema)
        template = insert_template(build_template_document(data, current_caller()))
        location = url_for("api.template", templateid=template["templateid"])
        return written(template, 201, Location=location)


class Template(Resource):
    method_decorators = [jwt_or_api_key_required]

    def get(self, templateid: str):
        """Read one template (from the cache); `If-None-Match` with its ETag answers 304.
        ---
        summary: Read a template
        tags: [templates]
        security: [{bearerAuth: []}, {apiKeyAuth: []}]
        parameters:
          - {in: path, name: templateid, required: true, schema: {type: string, format: uuid}}
          - {in: header, name: If-None-Match, schema: {type: string}}
        responses:
          200:
            description: The template
            headers:
              ETag: {schema: {type: string}}
              Cache-Control: {schema: {type: string}}
            content: {application/json: {schema: TemplateSchema}}
          304: {description: Not modified since the ETag given}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        found = template_cache.read_template(
            templateid, lambda: find_template(templateid), render_template, template_etag
        )
        if found is None:
            raise NotFound(TEMPLATE)
        headers = read_headers(found.etag)
        if not_modified(found.etag):
            return empty_response(304, headers)
        return found.body, 200, headers

    def put(self, templateid: str):
        """Replace a template: fields left out are reset to their defaults.
        ---
        summary: Replace a template
        tags: [templates]
        security: [{bearerAuth: []}, {apiKeyAuth: []}]
        parameters:
          - {in: path, name: templateid, required: true, schema: {type: string, format: uuid}}
          - {in: header, name: If-Match, schema: {type: string}}
        requestBody:
          required: true
          content: {application/json: {schema: TemplateInputSchema}}
        responses:
          200: {description: The template, content: {application/json: {schema: TemplateSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        data = parse_body(template_input_schema)
        with template_cache.writing(templateid):
            template = replace_template(templateid, data, if_match_versions(templateid))
        return written(template)

    def patch(self, templateid: str):
        """Change some fields of a template.
        ---
        summary: Update a template
        tags: [templates]
        security: [{bearerAuth: []}, {apiKeyAuth: []}]
        parameters:
          - {in: path, name: templateid, required: true, schema: {type: string, format: uuid}}
          - {in: header, name: If-Match, schema: {type: string}}
        requestBody:
          required: true
          content: {application/json: {schema: TemplatePatch}}
        responses:
          200: {description: The template, content: {application/json: {schema: TemplateSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        data = parse_body(template_input_schema, partial=True)
        with template_cache.writing(templateid):
            template = update_template(templateid, data, if_match_versions(templateid))
        return written(template)

    def delete(self, templateid: str):
        """Remove a template from the catalog.
        ---
        summary: Delete a template
        tags: [templates]
        security: [{bearerAuth: []}, {apiKeyAuth: []}]
        parameters:
          - {in: path, name: templateid, required: true, schema: {type: string, format: uuid}}
          - {in: header, name: If-Match, schema: {type: string}}
        responses:
          204: {description: Deleted}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
        """
        with template_cache.writing(templateid):
            delete_template(templateid, if_match_versions(templateid))
        return empty_response(204)


def register(api) -> None:
    api.add_resource(TemplateList, "/templates", endpoint="templates")
    api.add_resource(Template, "/templates/<uuid4:templateid>", endpoint="template")
