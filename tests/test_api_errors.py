"""Every error class of the data API, in its one JSON shape: 400, 401, 404, 405, 409, 413, 422, 503 — and
never a 500 for anything a client can send."""

from __future__ import annotations

import os
import random
import re
import uuid

import httpx
import msgspec
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


async def test_deeply_nested_or_invalid_unicode_json_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    staff = ok(await client.post("/employees", json={"external_id": "e", "display_name": "E"}), 201)
    deep = b"[" * 5000 + b"]" * 5000
    body = (
        b'{"employee_id": "'
        + staff["id"].encode()
        + b'", "session_key": "k", "metadata": {"x": '
        + deep
        + b"}}"
    )
    assert (
        "nested too deeply"
        in error(await client.post("/sessions", content=body), 400, "bad_request")["message"]
    )
    nested: object = "leaf"
    for _ in range(200):
        nested = [nested]
    made = ok(
        await client.post(
            "/sessions", json={"employee_id": staff["id"], "session_key": "k", "metadata": {"x": nested}}
        ),
        201,
    )
    assert made["metadata"] == {"x": nested}
    lone_surrogate = b'{"external_id": "x", "display_name": "\\ud800"}'
    error(await client.post("/customers", content=lone_surrogate), 400, "bad_request")
    nul_in_json = {"employee_id": staff["id"], "session_key": "n", "metadata": {"note": "a\u0000b"}}
    error(await client.post("/sessions", json=nul_in_json), 422, "validation_error")


def random_json(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value with the awkward cases: huge and tiny numbers, NUL and emoji, empty and nested."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**31, 2**63 - 1, -(2**63), 10**30, rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e-320, 1e308, -3.5e38, 0.5, rng.uniform(-2, 2)])
    if kind == 4:
        return rng.choice(["", "x", "\u0000", "é😀", "a" * 300, str(uuid.uuid4()), "2026-01-01T00:00:00Z"])
    if kind == 5:
        return [rng.uniform(-1, 1) for _ in range(rng.choice([0, 1, 511, 512, 1536]))]
    if kind == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice(["items", "embedding", "x"]): random_json(rng, depth + 1) for _ in range(rng.randrange(3))
    }


def fields_of(kind: type | None) -> list[str]:
    return [f.name for f in msgspec.structs.fields(kind)] if kind is not None else []


async def test_random_bodies_and_parameters_never_cause_a_500(client: httpx.AsyncClient) -> None:
    """A bounded, seeded fuzz of every endpoint: names of real fields with random values, real and unknown
    ids. Every answer is a 2xx or a 4xx in the one error shape."""
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "1234")))
    c = await customer(client)
    staff = ok(await client.post("/employees", json={"external_id": "fuzz", "display_name": "F"}), 201)
    visit = ok(await client.post("/sessions", json={"employee_id": staff["id"], "session_key": "fuzz"}), 201)
    ids = {"customer_id": c["id"], "employee_id": staff["id"], "session_id": visit["id"]}
    for endpoint in ENDPOINTS:
        names = fields_of(endpoint.body)
        for _ in range(25):
            path = re.sub(
                r"\{(\w+)\}",
                lambda m: rng.choice([ids[m[1]], str(uuid.uuid4()), "x", "%00", "1" * 100]),
                endpoint.path,
            )
            query = {
                name: str(random_json(rng))[:100] for name in fields_of(endpoint.query) if rng.random() < 0.5
            }
            body = {name: random_json(rng) for name in names if rng.random() < 0.8}
            if rng.random() < 0.2:
                body = random_json(rng)  # type: ignore[assignment]
            response = await client.request(endpoint.method, path, params=query, json=body)
            assert response.status_code < 500, (endpoint.method, path, body, response.text)
            if response.status_code >= 400:
                error(response, response.status_code)
