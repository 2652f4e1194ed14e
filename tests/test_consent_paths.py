"""Consent, path by path: every biometric and memory write and every search and context read, tried for a
customer who never consented and one who opted out, with their rows also planted behind the API's back (an
old import, a restore), so a path can only pass by filtering, not because the rows happen to be gone.

tests/test_api_privacy.py already has: face writes refused without consent or after opt-out, face search
blind to both (including a planted row for the non-consented), every write refused after an opt-out, opt-out
and erasure really erasing, and a lagging replica bringing nobody back. This file adds the planted rows for
the opted-out customer, memory search (all customers and one) and context (GET and POST with an embedding).
"""

from __future__ import annotations

import httpx
import psycopg

from api_support import FACE_DIM, TEXT_DIM, add_faces, add_memories, count, customer, error, ok, vector


async def plant(database_url: str, customer_id: str, face: list[float], thought: list[float], nugget: str) -> None:
    """A face, a memory and a preference stored directly in the database, as an import would."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO customer_face_embeddings (customer_id, model_name, embedding) VALUES (%s, 'm', %s::vector)",
            (customer_id, str(face)),
        )
        await conn.execute(
            "INSERT INTO customer_memory (customer_id, nugget, model_name, embedding)"
            " VALUES (%s, %s, 'm', %s::vector)",
            (customer_id, nugget, str(thought)),
        )
        await conn.execute(
            "INSERT INTO customer_preferences (customer_id, kind, value) VALUES (%s, 'drink', %s)",
            (customer_id, nugget),
        )


async def test_each_biometric_and_memory_path_for_a_customer_who_never_consented(
    client: httpx.AsyncClient, database_url: str
) -> None:
    face, thought = vector(FACE_DIM, 31), vector(TEXT_DIM, 31)
    never = await customer(client, consent=False)
    await plant(database_url, never["id"], face, thought, "planted for never")

    # Biometrics: no write, no match, not even a count of faces on the context screen.
    error(await add_faces(client, never["id"], vector(FACE_DIM, 32)), 409, "consent_required")
    assert await count(database_url, "customer_face_embeddings", never["id"]) == 1  # only the planted one
    assert ok(await client.post("/search/face", json={"embedding": face, "max_distance": 2.0, "limit": 100}))[
        "matches"
    ] == []
    for context in (
        ok(await client.get(f"/customers/{never['id']}/context")),
        ok(await client.post(f"/customers/{never['id']}/context", json={"embedding": thought})),
    ):
        assert context["face_embeddings"] == 0 and context["consent"]["biometric_writes_allowed"] is False
    # Memories are not biometric: without an opt-out they are kept and found (docs/privacy.md).
    ok(await add_memories(client, never["id"], ("likes jazz", vector(TEXT_DIM, 33))))
    found = ok(await client.post("/search/memory", json={"embedding": thought, "limit": 1}))["matches"]
    assert [m["memory"]["nugget"] for m in found] == ["planted for never"]


async def test_each_biometric_and_memory_path_for_a_customer_who_opted_out(
    client: httpx.AsyncClient, database_url: str
) -> None:
    face, thought = vector(FACE_DIM, 41), vector(TEXT_DIM, 41)
    gone = await customer(client, consent=True)
    ok(await add_faces(client, gone["id"], face))
    ok(await add_memories(client, gone["id"], ("allergic to nuts", thought)))
    ok(await client.post(f"/customers/{gone['id']}/opt-out"))
    await plant(database_url, gone["id"], face, thought, "planted after the opt-out")
    bystander = await customer(client, consent=True)
    ok(await add_memories(client, bystander["id"], ("likes tea", vector(TEXT_DIM, 42))))

    # Every write is refused and stores nothing beside the planted rows.
    error(await add_faces(client, gone["id"], vector(FACE_DIM, 43)), 409, "consent_required")
    error(await add_memories(client, gone["id"], ("x", vector(TEXT_DIM, 43))), 409, "consent_required")
    prefs = {"items": [{"kind": "drink", "value": "tea"}]}
    error(await client.post(f"/customers/{gone['id']}/preferences", json=prefs), 409, "consent_required")
    for table in ("customer_face_embeddings", "customer_memory", "customer_preferences"):
        assert await count(database_url, table, gone["id"]) == 1, table

    # Every search and context read is blind to them, even for their exact vectors.
    assert ok(await client.post("/search/face", json={"embedding": face, "max_distance": 2.0, "limit": 100}))[
        "matches"
    ] == []
    everyone = ok(await client.post("/search/memory", json={"embedding": thought, "limit": 100}))["matches"]
    assert [m["customer"]["id"] for m in everyone] == [bystander["id"]]
    theirs = await client.post(
        "/search/memory", params={"customer_id": gone["id"]}, json={"embedding": thought, "limit": 100}
    )
    assert ok(theirs)["matches"] == []
    for context in (
        ok(await client.get(f"/customers/{gone['id']}/context")),
        ok(await client.post(f"/customers/{gone['id']}/context", json={"embedding": thought})),
    ):
        assert context["face_embeddings"] == 0
        assert context["recent_memories"] == [] and context["preferences"] == []
        assert context["relevant_memories"] in (None, [])
        assert context["consent"]["memory_writes_allowed"] is False
