"""Consent gates every biometric read and write; opt-out and erasure really erase (docs/privacy.md)."""

from __future__ import annotations

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from frontdesk.settings import Settings

from api_support import (
    add_faces,
    add_memories,
    count,
    customer,
    employee,
    error,
    face_search,
    ok,
    session,
    vector,
)
from conftest import ServerFactory, create_database, drop_database, with_settings


async def test_a_customer_without_consent_never_appears_even_for_their_exact_vector(
    client: httpx.AsyncClient, database_url: str
) -> None:
    face = vector(512, 7)
    withdrawn = await customer(client, consent=True)
    ok(await add_faces(client, withdrawn["id"], face))
    # A row written behind the API's back (e.g. by an old import) must not leak either.
    never = await customer(client, consent=False)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO customer_face_embeddings (customer_id, model_name, embedding)"
            " VALUES (%s, 'm', %s::vector)",
            (never["id"], str(face)),
        )
    assert [m["customer"]["id"] for m in await face_search(client, face)] == [withdrawn["id"]]
    ok(await client.patch(f"/customers/{withdrawn['id']}", json={"consent_for_biometrics": False}))
    assert await face_search(client, face, max_distance=2.0, limit=100) == []


async def test_an_opted_out_customer_never_appears_even_for_their_exact_vector(
    client: httpx.AsyncClient, database_url: str
) -> None:
    face = vector(512, 8)
    gone = await customer(client, consent=True)
    ok(await add_faces(client, gone["id"], face))
    other = await customer(client, consent=True)
    ok(await add_faces(client, other["id"], vector(512, 9)))
    assert [m["customer"]["id"] for m in await face_search(client, face)] == [gone["id"]]
    ok(await client.post(f"/customers/{gone['id']}/opt-out"))
    matches = await face_search(client, face, max_distance=2.0, limit=100)
    assert [m["customer"]["id"] for m in matches] == [other["id"]]


async def test_face_writes_need_consent_and_no_opt_out(client: httpx.AsyncClient, database_url: str) -> None:
    refused = await customer(client, consent=False)
    err = error(await add_faces(client, refused["id"], vector(512, 1)), 409, "consent_required")
    assert err["detail"]["consent_for_biometrics"] is False
    assert await count(database_url, "customer_face_embeddings", refused["id"]) == 0
    error(await add_faces(client, "00000000-0000-0000-0000-000000000000", vector(512, 1)), 404, "not_found")


async def test_opt_out_erases_faces_memories_and_preferences_in_one_go(
    client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client, consent=True)
    ok(await add_faces(client, c["id"], vector(512, 1), vector(512, 2), vector(512, 3)))
    ok(await add_memories(client, c["id"], ("likes oolong", vector(1536, 1)), ("has a dog", vector(1536, 2))))
    ok(
        await client.post(
            f"/customers/{c['id']}/preferences", json={"items": [{"kind": "drink", "value": "tea"}]}
        )
    )
    result = ok(await client.post(f"/customers/{c['id']}/opt-out"))
    assert result["erased"] == {"face_embeddings": 3, "memories": 2, "preferences": 1}
    assert result["customer"]["consent_for_biometrics"] is False and result["customer"]["opted_out_at"]
    for table in ("customer_face_embeddings", "customer_memory", "customer_preferences"):
        assert await count(database_url, table, c["id"]) == 0, table
    again = ok(await client.post(f"/customers/{c['id']}/opt-out"))
    assert again["erased"] == {"face_embeddings": 0, "memories": 0, "preferences": 0}
    assert again["customer"]["opted_out_at"] == result["customer"]["opted_out_at"]


async def test_after_opt_out_every_write_is_refused_until_consent_is_given_again(
    client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client, consent=True)
    ok(await client.post(f"/customers/{c['id']}/opt-out"))
    error(await add_faces(client, c["id"], vector(512, 1)), 409, "consent_required")
    err = error(await add_memories(client, c["id"], ("x", vector(1536, 1))), 409, "consent_required")
    assert err["detail"]["opted_out_at"] is not None
    prefs = {"items": [{"kind": "drink", "value": "tea"}]}
    error(await client.post(f"/customers/{c['id']}/preferences", json=prefs), 409, "consent_required")
    context = ok(await client.get(f"/customers/{c['id']}/context"))
    assert context["consent"]["biometric_writes_allowed"] is False
    assert context["consent"]["memory_writes_allowed"] is False

    renewed = ok(await client.patch(f"/customers/{c['id']}", json={"consent_for_biometrics": True}))
    assert renewed["opted_out_at"] is None and renewed["consent_for_biometrics"] is True
    ok(await add_faces(client, c["id"], vector(512, 1)))
    ok(await add_memories(client, c["id"], ("x", vector(1536, 1))))
    ok(await client.post(f"/customers/{c['id']}/preferences", json=prefs))
    assert [m["customer"]["id"] for m in await face_search(client, vector(512, 1))] == [c["id"]]


async def test_memories_need_no_biometric_consent_but_no_opt_out(client: httpx.AsyncClient) -> None:
    c = await customer(client, consent=False)
    assert ok(await add_memories(client, c["id"], ("likes jazz", vector(1536, 4))))["created"] == 1


async def test_delete_erases_the_customer_and_detaches_their_sessions(
    client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client, consent=True)
    bystander = await customer(client, consent=True)
    staff = await employee(client)
    visit = await session(client, staff["id"], c["id"])
    other_visit = await session(client, staff["id"], bystander["id"])
    for s in (visit, other_visit):
        chunks = {"chunks": [{"chunk_index": 0, "content": "hello"}, {"chunk_index": 1, "content": "bye"}]}
        ok(await client.post(f"/sessions/{s['id']}/transcript", json=chunks))
    ok(await client.post(f"/sessions/{visit['id']}/coaching-notes", json={"content": "greet by name"}), 201)
    ok(await add_faces(client, c["id"], vector(512, 1)))
    ok(await add_memories(client, c["id"], ("allergic to nuts", vector(1536, 1))))

    erased = ok(await client.delete(f"/customers/{c['id']}"))
    assert erased == {
        "customer_id": c["id"],
        "face_embeddings": 1,
        "memories": 1,
        "preferences": 0,
        "transcript_chunks": 2,
        "sessions_detached": 1,
    }
    error(await client.get(f"/customers/{c['id']}"), 404, "not_found")
    error(await client.delete(f"/customers/{c['id']}"), 404, "not_found")
    assert await count(database_url, "customers", c["id"]) == 0
    kept = ok(await client.get(f"/sessions/{visit['id']}"))
    assert kept["customer_id"] is None and kept["employee_id"] == staff["id"]
    assert ok(await client.get(f"/sessions/{visit['id']}/transcript"))["items"] == []
    assert len(ok(await client.get(f"/sessions/{visit['id']}/coaching-notes"))["items"]) == 1
    assert len(ok(await client.get(f"/sessions/{other_visit['id']}/transcript"))["items"]) == 2
    remaining = await face_search(client, vector(512, 1), max_distance=2.0, limit=100)
    assert {m["customer"]["id"] for m in remaining} <= {bystander["id"]}


async def test_a_lagging_read_replica_cannot_bring_back_an_opted_out_customer(
    settings: Settings, start_server: ServerFactory, admin_url: str
) -> None:
    face, thought = vector(512, 11), vector(1536, 11)
    async with start_server(settings) as live, live.client() as http:
        c = await customer(http, consent=True)
        ok(await add_faces(http, c["id"], face))
        ok(await add_memories(http, c["id"], ("collects stamps", thought)))
    # The "replica" is a copy taken now: it will never see the opt-out, like a replica lagging forever.
    assert settings.database_url is not None
    replica = "replica_" + conninfo_to_dict(settings.database_url)["dbname"]
    create_database(admin_url, replica, template=conninfo_to_dict(settings.database_url)["dbname"])
    try:
        read_url = make_conninfo(settings.database_url, dbname=replica)
        async with (
            start_server(with_settings(settings, database_read_url=read_url)) as live,
            live.client() as http,
        ):
            assert [m["customer"]["id"] for m in await face_search(http, face)] == [c["id"]]
            ok(await http.post(f"/customers/{c['id']}/opt-out"))
            assert await face_search(http, face, max_distance=2.0) == []
            assert ok(await http.post("/search/memory", json={"embedding": thought}))["matches"] == []
            context = ok(await http.get(f"/customers/{c['id']}/context"))
            assert context["recent_memories"] == [] and context["face_embeddings"] == 0
    finally:
        drop_database(admin_url, replica)
