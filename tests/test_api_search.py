"""Face and memory search: thresholds, one match per customer, filters that cannot starve the result."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector_async

from frontdesk import migrations
from frontdesk.queries import QUERIES
from frontdesk.settings import Settings

from api_support import add_faces, add_memories, customer, error, face_search, near, ok, vector
from conftest import ServerFactory, with_settings


async def test_face_search_returns_the_nearest_consented_customers_best_first(
    client: httpx.AsyncClient,
) -> None:
    probe = vector(512, 100)
    close, closer = await customer(client), await customer(client)
    ok(await add_faces(client, close["id"], near(probe, 1, noise=0.6)))
    ok(await add_faces(client, closer["id"], near(probe, 2, noise=0.2)))
    stranger = await customer(client)
    ok(await add_faces(client, stranger["id"], vector(512, 999)))
    matches = await face_search(client, probe)
    assert [m["customer"]["id"] for m in matches] == [closer["id"], close["id"]]
    assert 0 <= matches[0]["distance"] < matches[1]["distance"] <= 0.4
    assert set(matches[0]["customer"]) == {"id", "external_id", "display_name"}
    assert ok(await client.post("/search/face", json={"embedding": probe}))["max_distance"] == 0.4


async def test_a_face_beyond_the_threshold_is_no_match_unless_the_request_widens_it(
    client: httpx.AsyncClient,
) -> None:
    probe = vector(512, 200)
    c = await customer(client)
    ok(await add_faces(client, c["id"], vector(512, 201)))  # unrelated: cosine distance about 1
    assert await face_search(client, probe) == []
    widened = await face_search(client, probe, max_distance=1.5)
    assert [m["customer"]["id"] for m in widened] == [c["id"]] and 0.4 < widened[0]["distance"] <= 1.5
    assert await face_search(client, near(vector(512, 201), 3), max_distance=0.0) == []


async def test_the_threshold_comes_from_the_settings(settings: Settings, start_server: ServerFactory) -> None:
    async with (
        start_server(with_settings(settings, face_match_max_distance=1.9)) as live,
        live.client() as http,
    ):
        c = await customer(http)
        ok(await add_faces(http, c["id"], vector(512, 301)))
        result = ok(await http.post("/search/face", json={"embedding": vector(512, 300)}))
        assert result["max_distance"] == 1.9 and [m["customer"]["id"] for m in result["matches"]] == [c["id"]]


async def test_a_customer_with_many_faces_is_one_match_with_their_best_distance(
    client: httpx.AsyncClient,
) -> None:
    probe = vector(512, 400)
    many = await customer(client)
    result = ok(
        await add_faces(client, many["id"], *(near(probe, i, noise=0.1 + 0.05 * i) for i in range(8)))
    )
    others = [await customer(client) for _ in range(3)]
    for i, other in enumerate(others):
        ok(await add_faces(client, other["id"], near(probe, 50 + i, noise=0.8)))
    matches = await face_search(client, probe, limit=3)
    assert matches[0]["customer"]["id"] == many["id"] and len(matches) == 3
    assert len({m["customer"]["id"] for m in matches}) == 3
    assert matches[0]["face_embedding_id"] == result["items"][0]["id"]  # the least noisy of the eight


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"limit": 0}, "$.limit"),
        ({"limit": 101}, "$.limit"),
        ({"max_distance": 2.5}, "$.max_distance"),
        ({"max_distance": -0.1}, "$.max_distance"),
        ({"extra": 1}, "$"),
    ],
)
async def test_search_options_are_range_checked(
    client: httpx.AsyncClient, body: dict[str, object], path: str
) -> None:
    err = error(await client.post("/search/face", json={"embedding": vector(512, 1), **body}), 422)
    assert err["detail"]["path"] == path


@dataclass
class SmallDims:
    """A database with 16-dimensional vectors, so tests can load many rows quickly, and its settings."""

    url: str
    settings: Settings


@pytest.fixture
def small_dims(new_database: Callable[..., str], settings: Settings) -> SmallDims:
    url = new_database(template=False)
    migrations.migrate(url, 16, 16)
    return SmallDims(
        url, with_settings(settings, database_url=url, face_embedding_dim=16, text_embedding_dim=16)
    )


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
async def conn(small_dims: SmallDims) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    async with await psycopg.AsyncConnection.connect(small_dims.url, autocommit=True) as connection:
        await register_vector_async(connection)
        yield connection


async def test_face_search_is_not_starved_by_the_consent_filter(
    small_dims: SmallDims, start_server: ServerFactory, conn: psycopg.AsyncConnection[tuple[object, ...]]
) -> None:
    """The 300 faces nearest the probe belong to customers without consent. HNSW with ef_search=40 (pgvector's
    default) yields 40 candidates, all from that crowd, so a post-filtered scan starves: it finds few or none
    of the five consented customers a little farther out. The iterative scan must go on until it has them."""
    rng = np.random.default_rng(5)
    probe = unit(rng.standard_normal(16))
    # 300 non-consented faces right at the probe; 2000 consented ones on the far side (no match).
    crowd = unit(
        np.vstack(
            [probe + 0.02 * rng.standard_normal((300, 16)), -probe + 0.3 * rng.standard_normal((2000, 16))]
        )
    )
    rows = await (
        await conn.execute(
            "INSERT INTO customers (external_id, display_name, consent_for_biometrics)"
            " SELECT 'crowd-' || g, 'Crowd', g > 300 FROM generate_series(1, %s) g ORDER BY g RETURNING id",
            (len(crowd),),
        )
    ).fetchall()
    async with conn.cursor().copy(
        "COPY customer_face_embeddings (customer_id, model_name, embedding) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["uuid", "text", "vector"])
        for (customer_id,), face in zip(rows, crowd, strict=True):
            await copy.write_row((customer_id, "m", face))
    settings = with_settings(small_dims.settings, hnsw_ef_search=40)
    async with start_server(settings) as live, live.client() as http:
        targets = set()
        for _ in range(5):
            target = await customer(http)
            face = [float(x) for x in unit(probe + 0.15 * rng.standard_normal(16))]
            ok(await add_faces(http, target["id"], face))
            targets.add(target["id"])
        await conn.execute("ANALYZE")

        # The setup really exercises the problem: the plan walks the HNSW index, and without iterative scans
        # the consent filter starves the result.
        params = {"embedding": probe, "max_distance": 0.4, "limit": 5, "candidates": 50}
        await conn.execute("SET hnsw.ef_search = 40")
        explain = await conn.execute("EXPLAIN " + QUERIES["search_faces"], params)
        assert "customer_face_embeddings_hnsw_idx" in "\n".join(r[0] for r in await explain.fetchall())
        assert len(await (await conn.execute(QUERIES["search_faces"], params)).fetchall()) < 5

        matches = await face_search(http, [float(x) for x in probe], limit=5)
        assert {m["customer"]["id"] for m in matches} == targets


async def test_a_filtered_memory_search_returns_k_for_a_customer_among_100k_memories(
    small_dims: SmallDims, start_server: ServerFactory, conn: psycopg.AsyncConnection[tuple[object, ...]]
) -> None:
    rng = np.random.default_rng(6)
    others = await (
        await conn.execute(
            "INSERT INTO customers (external_id, display_name) SELECT 'other-' || g, 'Other'"
            " FROM generate_series(1, 1000) g RETURNING id"
        )
    ).fetchall()
    # Bulk load without the HNSW index, then build it (cheaper parameters than the migration's, which only
    # changes build time): 100k rows inserted one by one into the index would take minutes.
    await conn.execute("DROP INDEX customer_memory_hnsw_idx")
    async with conn.cursor().copy(
        "COPY customer_memory (customer_id, nugget, model_name, embedding) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["uuid", "text", "text", "vector"])
        for i, embedding in enumerate(unit(rng.standard_normal((100_000, 16)))):
            await copy.write_row((others[i % len(others)][0], f"memory {i}", "t", embedding))
    await conn.execute("SET maintenance_work_mem = '128MB'")
    await conn.execute(
        "CREATE INDEX customer_memory_hnsw_idx ON customer_memory USING hnsw (embedding vector_cosine_ops)"
        " WITH (m = 4, ef_construction = 16)"
    )
    await conn.execute("ANALYZE customer_memory")
    async with start_server(small_dims.settings) as live, live.client() as http:
        few, some = await customer(http), await customer(http)
        few_vectors = unit(rng.standard_normal((10, 16)))
        some_vectors = unit(rng.standard_normal((60, 16)))
        for who, vectors in ((few, few_vectors), (some, some_vectors)):
            ok(
                await add_memories(
                    http, who["id"], *((f"note {i}", [float(x) for x in v]) for i, v in enumerate(vectors))
                )
            )
        query = unit(rng.standard_normal(16))
        for who, vectors, k in ((few, few_vectors, 10), (some, some_vectors, 25)):
            body = {"embedding": [float(x) for x in query], "limit": k}
            matches = ok(await http.post("/search/memory", params={"customer_id": who["id"]}, json=body))[
                "matches"
            ]
            assert len(matches) == k
            assert {m["customer"]["id"] for m in matches} == {who["id"]}
            exact = np.argsort(1 - vectors @ query, kind="stable")[:k]
            assert [m["memory"]["nugget"] for m in matches] == [f"note {i}" for i in exact]
            distances = [m["distance"] for m in matches]
            assert distances == sorted(distances)
        everyone = ok(
            await http.post("/search/memory", json={"embedding": [float(x) for x in query], "limit": 7})
        )
        assert len(everyone["matches"]) == 7


async def test_memory_search_checks_its_customer_filter(client: httpx.AsyncClient) -> None:
    body = {"embedding": vector(1536, 1)}
    err = error(await client.post("/search/memory", params={"customer_id": "nope"}, json=body), 422)
    assert err["detail"] == {"in": "query", "parameter": "customer_id"}
    unknown = "00000000-0000-0000-0000-000000000001"
    err = error(await client.post("/search/memory", params={"customer_id": unknown}, json=body), 404)
    assert err["detail"] == {"in": "query", "parameter": "customer_id"}
    err = error(await client.post("/search/memory", params={"customerid": unknown}, json=body), 422)
    assert err["detail"] == {"in": "query", "parameter": "customerid"}


async def test_memory_search_honours_max_distance(client: httpx.AsyncClient) -> None:
    c = await customer(client, consent=False)
    thought = vector(1536, 10)
    ok(
        await add_memories(
            client, c["id"], ("likes green tea", near(thought, 1)), ("unrelated", vector(1536, 11))
        )
    )
    matches = ok(
        await client.post(
            "/search/memory",
            params={"customer_id": c["id"]},
            json={"embedding": thought, "max_distance": 0.3},
        )
    )["matches"]
    assert [m["memory"]["nugget"] for m in matches] == ["likes green tea"]
    assert matches[0]["customer"]["id"] == c["id"] and "embedding" not in matches[0]["memory"]
