"""Every error class of the data API, in its one JSON shape: 400, 401, 404, 405, 409, 413, 422, 503 — and
never a 500 for anything a client can send."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from starlette.routing import Route

from frontdesk.api import ENDPOINTS
from frontdesk.settings import Settings

from api_support import customer, error, ok, vector
from conftest import LiveServer, ServerFactory, with_settings


def concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", lambda _: str(uuid.uuid4()), path)


async def test_every_data_endpoint_is_routed_and_answers_401_without_a_valid_token(
    server: LiveServer,
) -> None:
    routed = {(m, r.path) for r in server.app.routes if isinstance(r, Route) for m in (r.methods or ())}
    declared = {(e.method, e.path) for e in ENDPOINTS}
    assert declared <= routed
    for token in (None, "not-the-token"):
        async with server.client(token=token) as http:
            for method, path in sorted(declared):
                response = await http.request(method, concrete(path), json={})
                err = error(response, 401, "unauthorized")
                assert "Bearer" in err["message"], (method, path)
                assert response.headers["www-authenticate"] == "Bearer"


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    for raw in (b"{", b'{"external_id": "x"', b"\xff\xfe", b"{'single': 'quotes'}"):
        err = error(await client.post("/customers", content=raw), 400, "bad_request")
        assert err["detail"] == {"path": "$"}
    error(await client.post("/customers"), 400, "bad_request")


async def test_nan_and_infinity_are_not_json_and_are_refused(client: httpx.AsyncClient) -> None:
    """JSON has no NaN or Infinity literal: such a body is malformed (400); a number too large for a double
    is out of range (422). Neither reaches the database."""
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"embedding": [' + b"0.1, " * 511 + token + b"]}"
        assert "malformed JSON" in error(await client.post("/search/face", content=body), 400)["message"]
    body = b'{"embedding": [' + b"0.1, " * 511 + b"1e400]}"
    err = error(await client.post("/search/face", content=body), 422, "validation_error")
    assert err["detail"]["path"] == "$.embedding[511]"


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ([0.1] * 511, "expected 512 numbers, got 511"),
        ([0.1] * 513, "expected 512 numbers, got 513"),
        ([], "expected 512 numbers, got 0"),
        ([0.1] * 511 + [1e39], "number at index 511 (1e+39) is outside the float32 range"),
        ([-3.5e38] + [0.1] * 511, "number at index 0 (-3.5e+38) is outside the float32 range"),
        ([0.0] * 512, "the vector is all zeros"),
        ([0] * 512, "the vector is all zeros"),
        (["0.1"] * 512, "expected a number at index 0, got a string"),
        ([0.1] * 200 + [True] + [0.1] * 311, "expected a number at index 200, got a boolean"),
        ([[0.1] * 512], "expected 512 numbers, got 1"),
        ([[0.1]] * 512, "expected a number at index 0, got an array"),
        ([None] * 512, "expected a number at index 0, got null"),
        ("0.1, 0.2", "expected an array of 512 numbers, got a string"),
        ({"0": 0.1}, "expected an array of 512 numbers, got an object"),
        (None, "expected an array of 512 numbers, got null"),
    ],
)
async def test_a_bad_vector_is_a_422_saying_what_and_where(
    client: httpx.AsyncClient, embedding: object, message: str
) -> None:
    err = error(await client.post("/search/face", json={"embedding": embedding}), 422, "validation_error")
    assert err["message"].startswith(message) and err["detail"] == {"path": "$.embedding"}


async def test_vectors_at_the_edge_of_float32_and_integer_vectors_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    ok(await client.post("/search/face", json={"embedding": [3.4e38] + [-3.4e38] * 511}))
    ok(await client.post("/search/face", json={"embedding": [1] + [0] * 511}))
    ok(await client.post("/search/face", json={"embedding": [1e-45] * 512}))


async def test_vectors_are_stored_l2_normalised(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    unit = vector(512, 3)
    ok(
        await client.post(
            f"/customers/{c['id']}/faces",
            json={"items": [{"embedding": [x * 1000 for x in unit], "model_name": "m"}]},
        )
    )
    # The same direction at another scale is the same stored vector: same derived key, nothing new.
    again = ok(
        await client.post(
            f"/customers/{c['id']}/faces",
            json={"items": [{"embedding": [x * 0.001 for x in unit], "model_name": "m"}]},
        )
    )
    assert again["created"] == 0
    [match] = ok(await client.post("/search/face", json={"embedding": unit}))["matches"]
    assert match["distance"] == pytest.approx(0.0, abs=1e-6)


async def test_a_wrong_type_names_the_field(client: httpx.AsyncClient) -> None:
    err = error(await client.post("/customers", json={"external_id": 5, "display_name": "x"}), 422)
    assert err["detail"]["path"] == "$.external_id" and "str" in err["message"]
    err = error(await client.post("/customers", json=["not", "an", "object"]), 422)
    assert err["detail"]["path"] == "$"
    err = error(await client.post("/customers", json={"display_name": "x"}), 422)
    assert "external_id" in err["message"]


async def test_a_body_over_the_limit_is_a_413(settings: Settings, start_server: ServerFactory) -> None:
    async with start_server(with_settings(settings, max_body_bytes=64 * 1024)) as live, live.client() as http:
        big = {"embedding": [0.123456789] * 512, "padding": "x" * 70_000}
        err = error(await http.post("/search/face", json=big), 413, "payload_too_large")
        assert err["detail"] == {"limit": 64 * 1024}
        ok(await http.post("/search/face", json={"embedding": [0.1] * 512}))


async def test_a_ten_megabyte_body_is_refused_by_the_default_limit(client: httpx.AsyncClient) -> None:
    body = b'{"embedding": [' + b"0.1234567890123, " * 650_000 + b"0.1]}"
    assert len(body) > 10_000_000
    error(await client.post("/search/face", content=body), 413, "payload_too_large")


async def test_an_exhausted_database_pool_is_a_503_not_a_hang(
    settings: Settings, start_server: ServerFactory
) -> None:
    limited = with_settings(settings, pool_min_size=1, pool_max_size=1, pool_timeout=0.3)
    async with start_server(limited) as live, live.client() as http:
        async with live.app.state.db.pool.connection():  # the only connection is busy
            err = error(await http.get("/customers"), 503, "database_unavailable")
            assert err["message"]
        ok(await http.get("/customers"))


async def test_a_wrong_method_and_an_unknown_path_answer_in_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    error(await client.put("/customers"), 405, "method_not_allowed")
    error(await client.get("/customers/nothing/here/at/all"), 404, "not_found")


async def test_unknown_query_parameters_are_refused(client: httpx.AsyncClient) -> None:
    err = error(await client.get("/customers", params={"externalid": "x"}), 422)
    assert err["detail"] == {"in": "query", "parameter": "externalid"}
    err = error(await client.get("/customers", params={"limit": "many"}), 422)
    assert err["detail"] == {"in": "query", "parameter": "limit"}
