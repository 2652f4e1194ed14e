"""Small helpers for the data API tests: deterministic vectors, making rows through the API, counting rows."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import numpy as np
import psycopg

FACE_DIM, TEXT_DIM = 512, 1536
_names = itertools.count()


def vector(dim: int, seed: int) -> list[float]:
    """A deterministic random unit vector."""
    v = np.random.default_rng(seed).standard_normal(dim)
    return [float(x) for x in v / np.linalg.norm(v)]


def near(base: list[float], seed: int, noise: float = 0.05) -> list[float]:
    """A vector close to `base` (cosine distance well under the default 0.4 threshold for noise 0.05)."""
    v = np.asarray(base) + noise * np.random.default_rng(seed).standard_normal(len(base)) / np.sqrt(len(base))
    return [float(x) for x in v / np.linalg.norm(v)]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The error object of a response that must have `status` (and `code`), in the one error shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


async def customer(client: httpx.AsyncClient, consent: bool = True, **fields: Any) -> dict[str, Any]:
    n = next(_names)
    body = {
        "external_id": f"crm-{n}",
        "display_name": f"Customer {n}",
        "consent_for_biometrics": consent,
        **fields,
    }
    return ok(await client.post("/customers", json=body), 201)  # type: ignore[no-any-return]


async def employee(client: httpx.AsyncClient) -> dict[str, Any]:
    n = next(_names)
    return ok(
        await client.post("/employees", json={"external_id": f"emp-{n}", "display_name": f"Employee {n}"}),
        201,
    )  # type: ignore[no-any-return]


async def session(
    client: httpx.AsyncClient, employee_id: str, customer_id: str | None = None
) -> dict[str, Any]:
    body = {"employee_id": employee_id, "session_key": f"sess-{next(_names)}", "customer_id": customer_id}
    return ok(await client.post("/sessions", json=body), 201)  # type: ignore[no-any-return]


async def add_faces(client: httpx.AsyncClient, customer_id: str, *vectors: list[float]) -> httpx.Response:
    items = [{"embedding": v, "model_name": "arcface-r100"} for v in vectors]
    return await client.post(f"/customers/{customer_id}/faces", json={"items": items})


async def add_memories(
    client: httpx.AsyncClient, customer_id: str, *nuggets: tuple[str, list[float]]
) -> httpx.Response:
    items = [{"nugget": text, "embedding": v, "model_name": "text-embedding-3-small"} for text, v in nuggets]
    return await client.post(f"/customers/{customer_id}/memories", json={"items": items})


async def face_search(
    client: httpx.AsyncClient, embedding: list[float], **options: Any
) -> list[dict[str, Any]]:
    response = await client.post("/search/face", json={"embedding": embedding, **options})
    return ok(response)["matches"]  # type: ignore[no-any-return]


async def count(database_url: str, table: str, customer_id: str) -> int:
    """Rows of `table` for one customer, counted directly in the database."""
    query = {
        "customer_face_embeddings": "SELECT count(*) FROM customer_face_embeddings WHERE customer_id = %s",
        "customer_memory": "SELECT count(*) FROM customer_memory WHERE customer_id = %s",
        "customer_preferences": "SELECT count(*) FROM customer_preferences WHERE customer_id = %s",
        "customers": "SELECT count(*) FROM customers WHERE id = %s",
    }[table]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (await conn.execute(query, (customer_id,))).fetchone()
    assert row is not None
    return int(row[0])
