"""OpenAPI 3.1 for the data API, generated from the same Endpoint declarations and msgspec Structs that
serve and validate it, so the document cannot drift from the code. `/openapi.json` serves it; `/docs`
renders it with swagger-ui from /static/vendor (installed by `make assets`, never a CDN)."""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from frontdesk import __version__
from frontdesk.api import ENDPOINTS, schemas, vectors
from frontdesk.api.endpoint import Endpoint
from frontdesk.http import json_response
from frontdesk.pages import STATIC_DIR
from frontdesk.settings import Settings

REF = "#/components/schemas/{name}"

# Each error status, its component name and what it means here.
ERRORS = {
    400: ("BadRequest", "Malformed JSON, or no body where one is required"),
    401: ("Unauthorized", "Missing or invalid `Authorization: Bearer <token>`"),
    404: ("NotFound", "An id in the path (or a referenced id in the body or query) does not exist"),
    409: ("Conflict", "Refused by the data's state (see the operation's description)"),
    413: ("PayloadTooLarge", "Body larger than MAX_BODY_BYTES"),
    422: ("ValidationError", "A field, path or query parameter is invalid; `detail` names it"),
    503: ("DatabaseUnavailable", "The database cannot be reached; retry later"),
}


def _refers_to_rows(kind: type | None) -> bool:
    """Whether a body or query names other rows by id (an unknown one is a 404)."""
    if kind is None:
        return False
    for field in msgspec.structs.fields(kind):
        info = msgspec.inspect.type_info(field.type)
        options = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
        if any(isinstance(option, msgspec.inspect.UUIDType) for option in options):
            return True
    return False


def error_statuses(endpoint: Endpoint) -> list[int]:
    statuses = {401, 503}
    if endpoint.path_params or endpoint.query or endpoint.body:
        statuses.add(422)
    if endpoint.path_params or _refers_to_rows(endpoint.body) or _refers_to_rows(endpoint.query):
        statuses.add(404)
    if endpoint.body:
        statuses |= {400, 413}
    if endpoint.conflict:
        statuses.add(409)
    return sorted(statuses)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is either present or absent; `anyOf [X, null]` says X."""
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1 and "anyOf" in schema:
        rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
        return {**options[0], **rest}
    return schema


def _parameters(endpoint: Endpoint, components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in endpoint.path_params
    ]
    if endpoint.query is not None:
        query = components[endpoint.query.__name__]
        for name, schema in query["properties"].items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in query.get("required", []),
                    "schema": _without_null(schema),
                }
            )
    return params


def _operation(endpoint: Endpoint, refs: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": _parameters(endpoint, components),
        "responses": {
            str(endpoint.status): {
                "description": "OK" if endpoint.status == 200 else "Created",
                "content": {"application/json": {"schema": refs[endpoint.response]}},
            },
        },
    }
    description = endpoint.description or ""
    if endpoint.conflict:
        description += f"\n\n409: {endpoint.conflict}."
    if description.strip():
        operation["description"] = description.strip()
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": not endpoint.body_optional,
            "content": {"application/json": {"schema": refs[endpoint.body]}},
        }
    for status in error_statuses(endpoint):
        operation["responses"][str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    return operation


def document(settings: Settings) -> dict[str, Any]:
    types: list[Any] = [schemas.Error]
    for endpoint in ENDPOINTS:
        types += [t for t in (endpoint.body, endpoint.query, endpoint.response) if t is not None]
    types = list(dict.fromkeys(types))
    hook = vectors.schema_hook(settings.face_embedding_dim, settings.text_embedding_dim)
    ref_list, components = msgspec.json.schema_components(types, schema_hook=hook, ref_template=REF)
    refs = dict(zip(types, ref_list, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs, components)
    for endpoint in ENDPOINTS:  # query Structs became parameters; they are no schema of their own
        if endpoint.query is not None:
            components.pop(endpoint.query.__name__, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "frontdesk data API",
            "version": __version__,
            "description": (
                "Consented customer memory: customers, employees, sessions, face embeddings, memories, "
                "search, opt-out and erasure. Every operation needs `Authorization: Bearer <token>`. "
                f"Face vectors have {settings.face_embedding_dim} numbers, text vectors "
                f"{settings.text_embedding_dim}. Errors share one shape: "
                '`{"error": {"code", "message", "detail"}}`.'
            ),
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                name: {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
                }
                for name, text in ERRORS.values()
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    cached = getattr(request.app.state, "openapi", None)
    if cached is None:
        cached = request.app.state.openapi = document(request.app.state.settings)
    return json_response(cached)


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>frontdesk API</title>
  <link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/static/docs.js"></script>
</body>
</html>
"""

MISSING_ASSETS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>frontdesk API</title></head>
<body><p>The API documentation viewer is not installed: run <code>make assets</code>.
The document itself is at <a href="/openapi.json">/openapi.json</a>.</p></body></html>
"""


async def docs(request: Request) -> Response:
    installed = (STATIC_DIR / "vendor" / "swagger-ui" / "swagger-ui-bundle.js").is_file()
    return HTMLResponse(DOCS_PAGE if installed else MISSING_ASSETS)


def routes() -> list[BaseRoute]:
    return [Route("/openapi.json", openapi_json, methods=["GET"]), Route("/docs", docs, methods=["GET"])]
