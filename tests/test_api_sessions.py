"""Sessions, transcripts, coaching notes, and the customer context that brings them together."""

from __future__ import annotations

import uuid

import httpx

from api_support import add_faces, add_memories, customer, employee, error, near, ok, session, vector


async def test_a_session_is_started_attached_ended_and_listed(client: httpx.AsyncClient) -> None:
    staff, c = await employee(client), await customer(client)
    started = ok(
        await client.post(
            "/sessions",
            json={
                "employee_id": staff["id"],
                "session_key": "till-3-0915",
                "metadata": {"till": 3},
                "started_at": "2026-01-02T09:15:00+01:00",
            },
        ),
        201,
    )
    assert started["customer_id"] is None and started["metadata"] == {"till": 3}
    assert started["started_at"] == "2026-01-02T08:15:00Z" and started["ended_at"] is None
    attached = ok(await client.post(f"/sessions/{started['id']}/customer", json={"customer_id": c["id"]}))
    assert attached["customer_id"] == c["id"]
    ended = ok(await client.post(f"/sessions/{started['id']}/end"))
    assert ended["ended_at"] is not None
    again = ok(await client.post(f"/sessions/{started['id']}/end", json={"ended_at": "2030-01-01T00:00:00Z"}))
    assert again["ended_at"] == ended["ended_at"], "ending twice keeps the first end"
    assert ok(await client.get(f"/sessions/{started['id']}")) == again
    mine = ok(await client.get("/sessions", params={"customer_id": c["id"]}))["items"]
    assert [s["id"] for s in mine] == [started["id"]]
    assert ok(await client.get("/sessions", params={"employee_id": str(uuid.uuid4())}))["items"] == []
    detached = ok(await client.post(f"/sessions/{started['id']}/customer", json={"customer_id": None}))
    assert detached["customer_id"] is None


async def test_session_references_and_keys_are_checked(client: httpx.AsyncClient) -> None:
    staff = await employee(client)
    err = error(
        await client.post("/sessions", json={"employee_id": str(uuid.uuid4()), "session_key": "k"}), 404
    )
    assert err["detail"]["field"] == "employee_id"
    body = {"employee_id": staff["id"], "session_key": "k", "customer_id": str(uuid.uuid4())}
    assert error(await client.post("/sessions", json=body), 404)["detail"]["field"] == "customer_id"
    ok(await client.post("/sessions", json={"employee_id": staff["id"], "session_key": "k"}), 201)
    err = error(await client.post("/sessions", json={"employee_id": staff["id"], "session_key": "k"}), 409)
    assert err["detail"]["field"] == "session_key"
    naive = {"employee_id": staff["id"], "session_key": "n", "started_at": "2026-01-02T09:15:00"}
    assert error(await client.post("/sessions", json=naive), 422)["detail"]["path"] == "$.started_at"
    visit = await session(client, staff["id"])
    before = {"ended_at": "2000-01-01T00:00:00Z"}
    error(await client.post(f"/sessions/{visit['id']}/end", json=before), 422, "validation_error")
    unknown = uuid.uuid4()
    for path in ("", "/transcript", "/coaching-notes"):
        error(await client.get(f"/sessions/{unknown}{path}"), 404, "not_found")
    error(await client.post(f"/sessions/{unknown}/end"), 404, "not_found")
    error(await client.post(f"/sessions/{unknown}/customer", json={"customer_id": None}), 404, "not_found")
    error(await client.post(f"/sessions/{unknown}/coaching-notes", json={"content": "x"}), 404, "not_found")
    chunks = {"chunks": [{"chunk_index": 0, "content": "x"}]}
    error(await client.post(f"/sessions/{unknown}/transcript", json=chunks), 404, "not_found")


async def test_a_transcript_is_read_back_in_order_page_by_page(client: httpx.AsyncClient) -> None:
    visit = await session(client, (await employee(client))["id"])
    path = f"/sessions/{visit['id']}/transcript"
    ok(await client.post(path, json={"chunks": [{"chunk_index": i, "content": f"c{i}"} for i in (4, 0, 2)]}))
    ok(await client.post(path, json={"chunks": [{"chunk_index": i, "content": f"c{i}"} for i in (1, 3)]}))
    seen, after = [], -1
    while after is not None:
        page = ok(await client.get(path, params={"after_index": after, "limit": 2}))
        seen += [c["content"] for c in page["items"]]
        after = page["next_after_index"]
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    error(await client.post(path, json={"chunks": [{"chunk_index": -1, "content": "x"}]}), 422)


async def test_coaching_notes_are_added_and_listed_newest_first(client: httpx.AsyncClient) -> None:
    visit = await session(client, (await employee(client))["id"])
    for text in ("greet warmly", "offer a seat"):
        ok(await client.post(f"/sessions/{visit['id']}/coaching-notes", json={"content": text}), 201)
    notes = ok(await client.get(f"/sessions/{visit['id']}/coaching-notes"))["items"]
    assert [n["content"] for n in notes] == ["offer a seat", "greet warmly"]
    error(await client.post(f"/sessions/{visit['id']}/coaching-notes", json={"content": ""}), 422)


async def test_the_context_has_profile_consent_preferences_memories_and_sessions(
    client: httpx.AsyncClient,
) -> None:
    c = await customer(client, consent=True, notes="regular")
    staff = await employee(client)
    ok(await add_faces(client, c["id"], vector(512, 1), vector(512, 2)))
    prefs = {"items": [{"kind": "drink", "value": "oat flat white", "category": "coffee"}]}
    ok(await client.post(f"/customers/{c['id']}/preferences", json=prefs))
    topic = vector(1536, 50)
    ok(
        await add_memories(
            client,
            c["id"],
            ("training for a marathon", near(topic, 1)),
            ("daughter starts school in May", vector(1536, 51)),
            ("prefers the window table", vector(1536, 52)),
        )
    )
    visits = [await session(client, staff["id"], c["id"]) for _ in range(3)]
    ok(
        await client.post(
            f"/sessions/{visits[-1]['id']}/coaching-notes", json={"content": "ask about the race"}
        ),
        201,
    )

    context = ok(await client.get(f"/customers/{c['id']}/context", params={"memories": 2, "sessions": 2}))
    assert context["customer"]["id"] == c["id"] and context["customer"]["notes"] == "regular"
    assert context["consent"] == {
        "consent_for_biometrics": True,
        "consent_updated_at": c["consent_updated_at"],
        "opted_out_at": None,
        "biometric_writes_allowed": True,
        "memory_writes_allowed": True,
    }
    assert context["face_embeddings"] == 2
    assert [p["value"] for p in context["preferences"]] == ["oat flat white"]
    assert [m["nugget"] for m in context["recent_memories"]] == [
        "prefers the window table",
        "daughter starts school in May",
    ]
    assert context["relevant_memories"] is None
    assert [s["session"]["id"] for s in context["recent_sessions"]] == [v["id"] for v in visits[:0:-1]]
    assert [n["content"] for n in context["recent_sessions"][0]["coaching_notes"]] == ["ask about the race"]

    relevant = ok(
        await client.post(f"/customers/{c['id']}/context", json={"embedding": topic, "memories": 1})
    )
    assert [m["memory"]["nugget"] for m in relevant["relevant_memories"]] == ["training for a marathon"]
    assert len(relevant["recent_memories"]) == 1
    assert ok(await client.post(f"/customers/{c['id']}/context"))["relevant_memories"] is None

    error(await client.get(f"/customers/{uuid.uuid4()}/context"), 404, "not_found")
    error(await client.get(f"/customers/{c['id']}/context", params={"memories": 101}), 422)
    err = error(await client.post(f"/customers/{c['id']}/context", json={"embedding": [1.0] * 10}), 422)
    assert err["message"] == "expected 1536 numbers, got 10" and err["detail"]["path"] == "$.embedding"


async def test_customer_lists_page_and_404_for_unknown_customers(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    ok(await add_faces(client, c["id"], *(vector(512, i) for i in range(3))))
    ok(await add_memories(client, c["id"], *((f"m{i}", vector(1536, i)) for i in range(3))))
    for kind in ("faces", "memories"):
        first = ok(await client.get(f"/customers/{c['id']}/{kind}", params={"limit": 2}))
        assert len(first["items"]) == 2 and first["next_offset"] == 2
        last = ok(await client.get(f"/customers/{c['id']}/{kind}", params={"limit": 2, "offset": 2}))
        assert len(last["items"]) == 1 and last["next_offset"] is None
        assert all("embedding" not in item for item in first["items"] + last["items"])
        error(await client.get(f"/customers/{uuid.uuid4()}/{kind}"), 404, "not_found")
    error(await client.get(f"/customers/{uuid.uuid4()}/preferences"), 404, "not_found")
    assert ok(await client.get(f"/customers/{c['id']}/preferences"))["items"] == []
