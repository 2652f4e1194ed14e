"""The OpenAPI 3.1 document is generated from the code: every endpoint, its body, its errors, bearer auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from frontdesk.api import ENDPOINTS
from frontdesk.openapi import error_statuses
from frontdesk.settings import Settings

from conftest import LiveServer, ServerFactory, with_settings


async def fetch(server: LiveServer) -> dict[str, Any]:
    async with server.client(token=None) as http:  # public: it describes the API, it holds no data
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_the_document_lists_every_endpoint_with_its_body_and_errors(server: LiveServer) -> None:
    doc = await fetch(server)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert doc["security"] == [{"bearer": []}]
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert operations == {(e.method, e.path) for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        op = doc["paths"][endpoint.path][endpoint.method.lower()]
        assert op["summary"] and op["operationId"] == endpoint.handler.__name__
        assert {str(s) for s in error_statuses(endpoint)} | {str(endpoint.status)} == set(op["responses"])
        assert {"401", "503"} <= set(op["responses"])
        if endpoint.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
            assert {"400", "413", "422"} <= set(op["responses"])
        if endpoint.path_params:
            assert {"404", "422"} <= set(op["responses"])
            assert [p["name"] for p in op["parameters"] if p["in"] == "path"] == endpoint.path_params
        if endpoint.query is not None:
            names = [p["name"] for p in op["parameters"] if p["in"] == "query"]
            assert names == [f.name for f in msgspec.structs.fields(endpoint.query)]
        if endpoint.conflict:
            assert "409" in op["responses"] and endpoint.conflict in op["description"]
    for name in (
        "BadRequest",
        "Unauthorized",
        "NotFound",
        "Conflict",
        "PayloadTooLarge",
        "ValidationError",
        "DatabaseUnavailable",
    ):
        schema = doc["components"]["responses"][name]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


async def test_vector_fields_carry_the_configured_dimensions(
    settings: Settings, start_server: ServerFactory, new_database: Callable[..., str]
) -> None:
    changed = with_settings(
        settings, database_url=new_database(template=False), face_embedding_dim=128, text_embedding_dim=384
    )
    async with start_server(changed) as live:
        doc = await fetch(live)
        async with live.client() as http:
            err = (await http.post("/search/face", json={"embedding": [0.5] * 512})).json()["error"]
            assert err["message"] == "expected 128 numbers, got 512"
    schemas = doc["components"]["schemas"]
    face = schemas["FaceSearch"]["properties"]["embedding"]
    assert (face["minItems"], face["maxItems"], face["items"]["type"]) == (128, 128, "number")
    text = schemas["MemoryIn"]["properties"]["embedding"]
    assert (text["minItems"], text["maxItems"]) == (384, 384)
    assert schemas["CustomerCreate"]["additionalProperties"] is False
    assert schemas["Customer"]["properties"]["created_at"]["format"] == "date-time"


async def test_docs_render_the_document_with_local_assets(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        page = await http.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        scripts = [part.split('"')[0] for part in page.text.split('src="')[1:]]
        assert scripts and all(src.startswith("/static/") for src in scripts), scripts
        for src in scripts:
            assert (await http.get(src)).status_code == 200, src
        init = await http.get("/static/docs.js")
        assert "/openapi.json" in init.text


async def test_the_document_is_the_same_for_a_client_with_a_token(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    assert (await client.get("/openapi.json")).json() == await fetch(server)
