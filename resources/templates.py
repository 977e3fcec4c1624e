"""`/templates`: the shared catalog of templates, for users (JWT) and machine clients (API key).

Who may change what: any authenticated caller may create, edit and delete any template. The
catalog is shared by design (the contract scopes templates to no one), and API keys are handed
out by operators through the CLI to trusted machine clients; `created_by` records who created
each template.

Single reads are served from the cache (services/template_cache.py), coherent with writes on
every worker. ETags and `If-Match` follow web/conditional.py. Reads say `Cache-Control: private, no-cache`: the response depends on
credentials, so shared proxies must not keep it, and clients revalidate with `If-None-Match`.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_restful import Resource

from resources.caller import current_caller, jwt_or_api_key_required
from resources.idempotency import created_id, idempotent
from schemas.pagination import sortable
from schemas.templates import TemplateInputSchema, TemplateListArgs, render_template_object
from services import template_cache
from stores.exceptions import NotFound
from stores.templates import (
    DEFAULT_SORT,
    SORTS,
    TEMPLATE,
    build_template_document,
    delete_template,
    find_template,
    insert_template,
    list_templates,
    replace_template,
    update_template,
)
from web.conditional import empty_response, etag_value, if_match_versions, not_modified
from web.openapi import Creates
from web.pagination import page_request, page_response
from web.parsing import use_body, use_query

CACHE_CONTROL = "private, no-cache"
LIST_ARGS = sortable(TemplateListArgs, SORTS, DEFAULT_SORT)


def template_etag(template: dict[str, Any]) -> str:
    return etag_value(template["templateid"], template["version"])


def read_headers(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"', "Cache-Control": CACHE_CONTROL}


def written(template: dict[str, Any], status: int = 200, **headers: str):
    """The answer to a write: the new template and its ETag."""
    return (
        render_template_object(template),
        status,
        {**read_headers(template_etag(template)), **headers},
    )


class TemplateList(Resource):
    creates = Creates("api.template", "templateid")  # links from the 201 in the OpenAPI document
    method_decorators = [jwt_or_api_key_required]

    @use_query(LIST_ARGS)
    def get(self, args):
        """List templates.
        ---
        responses:
          200: {description: One page of templates, content: {application/json: {schema: TemplatePage}}}
        """
        page = page_request(args, SORTS)
        found = list_templates(page.query, args["name_prefix"])
        body, headers = page_response(page, found, render_template_object)
        return body, 200, headers

    @idempotent
    @use_body(TemplateInputSchema())
    def post(self, data):
        """Create a template.

        Adds it to the shared catalog.
        ---
        responses:
          201:
            description: The created template
            headers:
              Location: {schema: {type: string}}
              ETag: {schema: {type: string}}
            content: {application/json: {schema: TemplateSchema}}
        """
        document = build_template_document(data, current_caller(), created_id())
        template = insert_template(document)
        location = url_for("api.template", templateid=template["templateid"])
        return written(template, 201, Location=location)


class Template(Resource):
    method_decorators = [jwt_or_api_key_required]
    conditional = True  # ETags and If-Match / If-None-Match (web/conditional.py)
    item_schema = "TemplateSchema"  # what GET, PUT and PATCH answer (documented)

    def get(self, templateid: str):
        """Read a template.

        Served from the cache; `If-None-Match` with its ETag answers 304.
        ---
        responses:
          200:
            description: The template
            headers:
              Cache-Control: {schema: {type: string}}
            content: {application/json: {schema: TemplateSchema}}
        """
        found = template_cache.read_template(
            templateid, lambda: find_template(templateid), render_template_object, template_etag
        )
        if found is None:
            raise NotFound(TEMPLATE)
        headers = read_headers(found.etag)
        if not_modified(found.etag):
            return empty_response(304, headers)
        return found.body, 200, headers

    @use_body(TemplateInputSchema())
    def put(self, data, templateid: str):
        """Replace a template.

        Fields left out are reset to their defaults.
        """
        with template_cache.writing(templateid):
            template = replace_template(templateid, data, if_match_versions(templateid))
        return written(template)

    @use_body(TemplateInputSchema(partial=True))
    def patch(self, data, templateid: str):
        """Update a template.

        Only the given fields change.
        """
        with template_cache.writing(templateid):
            template = update_template(templateid, data, if_match_versions(templateid))
        return written(template)

    def delete(self, templateid: str):
        """Delete a template.
        ---
        responses:
          204: {description: Deleted}
        """
        with template_cache.writing(templateid):
            delete_template(templateid, if_match_versions(templateid))
        return empty_response(204)


def register(api) -> None:
    api.add_resource(TemplateList, "/templates", endpoint="templates")
    api.add_resource(Template, "/templates/<uuid4:templateid>", endpoint="template")
