"""Batch writes: one statement, all-or-nothing, and idempotent under retries, also concurrent ones."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from api_support import count, customer, employee, error, ok, session, vector

RETRIES = 6


async def concurrently(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    responses = await asyncio.gather(*(client.post(path, json=body) for _ in range(RETRIES)))
    return [ok(r) for r in responses]


def faces(n: int, seed: int = 0) -> dict[str, Any]:
    return {"items": [{"embedding": vector(512, seed + i), "model_name": "m"} for i in range(n)]}


async def test_concurrent_identical_face_batches_leave_exactly_one_copy(
    client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client)
    results = await concurrently(client, f"/customers/{c['id']}/faces", faces(20))
    assert await count(database_url, "customer_face_embeddings", c["id"]) == 20
    assert sum(r["created"] for r in results) == 20  # each item created by exactly one of the retries
    ids = {tuple(item["id"] for item in r["items"]) for r in results}
    assert len(ids) == 1, "every retry reports the same stored ids"
    for r in results:
        assert r["created"] + r["existing"] == 20 and [i["index"] for i in r["items"]] == list(range(20))


async def test_concurrent_identical_memory_and_preference_batches_leave_one_copy(
    client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client, consent=False)
    memories = {
        "items": [
            {
                "nugget": f"fact {i}",
                "embedding": vector(1536, i),
                "model_name": "t",
                "idempotency_hash": f"mem-{i}",
            }
            for i in range(10)
        ]
    }
    prefs = {
        "items": [{"kind": "drink", "value": v, "category": "taste"} for v in ("tea", "coffee", "water")]
    }
    await asyncio.gather(
        concurrently(client, f"/customers/{c['id']}/memories", memories),
        concurrently(client, f"/customers/{c['id']}/preferences", prefs),
    )
    assert await count(database_url, "customer_memory", c["id"]) == 10
    assert await count(database_url, "customer_preferences", c["id"]) == 3
    stored = ok(await client.get(f"/customers/{c['id']}/memories", params={"limit": 200}))["items"]
    assert sorted(m["idempotency_hash"] for m in stored) == sorted(f"mem-{i}" for i in range(10))


async def test_concurrent_identical_transcript_batches_leave_one_copy(client: httpx.AsyncClient) -> None:
    visit = await session(client, (await employee(client))["id"])
    chunks = {"chunks": [{"chunk_index": i, "content": f"line {i}"} for i in range(50)]}
    results = await concurrently(client, f"/sessions/{visit['id']}/transcript", chunks)
    assert sum(r["created"] for r in results) == 50
    page = ok(await client.get(f"/sessions/{visit['id']}/transcript", params={"limit": 1000}))
    assert [c["chunk_index"] for c in page["items"]] == list(range(50))


async def test_a_retry_reports_created_and_present_items(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    first = ok(await client.post(f"/customers/{c['id']}/faces", json=faces(2)))
    assert (first["created"], first["existing"]) == (2, 0)
    grown = faces(3)  # the same two and a new one
    second = ok(await client.post(f"/customers/{c['id']}/faces", json=grown))
    assert (second["created"], second["existing"]) == (1, 2)
    assert [i["created"] for i in second["items"]] == [False, False, True]
    assert [i["id"] for i in second["items"][:2]] == [i["id"] for i in first["items"]]


async def test_an_explicit_idempotency_hash_decides_what_is_the_same_item(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    body = {"items": [{"embedding": vector(512, 1), "model_name": "m", "idempotency_hash": "frame-17"}]}
    ok(await client.post(f"/customers/{c['id']}/faces", json=body))
    body["items"][0]["embedding"] = vector(512, 2)  # a different vector under the same key: still "present"
    again = ok(await client.post(f"/customers/{c['id']}/faces", json=body))
    assert again["created"] == 0 and again["items"][0]["idempotency_hash"] == "frame-17"


async def test_a_hash_repeated_inside_one_batch_is_stored_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client)
    same = {"embedding": vector(512, 5), "model_name": "m"}
    result = ok(await client.post(f"/customers/{c['id']}/faces", json={"items": [same, same]}))
    assert [i["created"] for i in result["items"]] == [True, False]
    assert result["items"][0]["id"] == result["items"][1]["id"]
    assert await count(database_url, "customer_face_embeddings", c["id"]) == 1


async def test_a_batch_with_one_bad_item_stores_nothing(client: httpx.AsyncClient, database_url: str) -> None:
    c = await customer(client)
    body = faces(5)
    body["items"][3]["source_session_id"] = str(uuid.uuid4())  # refers to no session: the database refuses
    err = error(await client.post(f"/customers/{c['id']}/faces", json=body), 404, "not_found")
    assert err["detail"]["field"] == "source_session_id"
    assert await count(database_url, "customer_face_embeddings", c["id"]) == 0
    body = faces(5)
    body["items"][4]["embedding"] = [0.0] * 512
    err = error(await client.post(f"/customers/{c['id']}/faces", json=body), 422, "validation_error")
    assert err["detail"]["path"] == "$.items[4].embedding" and "zero" in err["message"]
    assert await count(database_url, "customer_face_embeddings", c["id"]) == 0


async def test_a_transcript_chunk_resent_with_other_content_refuses_the_whole_batch(
    client: httpx.AsyncClient,
) -> None:
    visit = await session(client, (await employee(client))["id"])
    path = f"/sessions/{visit['id']}/transcript"
    ok(await client.post(path, json={"chunks": [{"chunk_index": 0, "content": "hello"}]}))
    changed = {"chunks": [{"chunk_index": 1, "content": "new"}, {"chunk_index": 0, "content": "HELLO"}]}
    err = error(await client.post(path, json=changed), 409, "conflict")
    assert err["detail"]["path"] == "$.chunks[1].content"
    assert [c["content"] for c in ok(await client.get(path))["items"]] == ["hello"]
    twice = {"chunks": [{"chunk_index": 2, "content": "a"}, {"chunk_index": 2, "content": "b"}]}
    assert error(await client.post(path, json=twice), 422)["detail"]["path"] == "$.chunks[1].chunk_index"


async def test_batches_are_bounded_and_not_empty(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    err = error(await client.post(f"/customers/{c['id']}/faces", json={"items": []}), 422)
    assert err["detail"]["path"] == "$.items"
    too_many = {"items": [{"kind": "k", "value": str(i)} for i in range(1001)]}
    err = error(await client.post(f"/customers/{c['id']}/preferences", json=too_many), 422)
    assert err["detail"]["path"] == "$.items"
