"""The customer context: everything staff need on one screen when this customer walks in.

The profile and consent state come from the primary; the lists may come from a read replica and are blanked
when the primary says the customer opted out (a lagging replica must not show what was erased).
"""

from __future__ import annotations

import uuid
from typing import Any

from frontdesk.api import schemas as s
from frontdesk.api.consent import biometric_writes_allowed, memory_writes_allowed
from frontdesk.api.endpoint import Call, Endpoint, found
from frontdesk.api.search import nearest_memories
from frontdesk.api.vectors import TextVector
from frontdesk.db import Database

NOTES_PER_SESSION = 20


async def context(
    db: Database, customer_id: uuid.UUID, memories: int, sessions: int, embedding: TextVector | None
) -> dict[str, Any]:
    # Profile and consent from the primary: they decide what of the (possibly lagging) lists may be shown.
    customer = found(
        await db.fetch_one("get_customer", {"id": customer_id}), "customer", "customer_id", customer_id
    )
    opted_out = customer["opted_out_at"] is not None
    biometrics = biometric_writes_allowed(customer["consent_for_biometrics"], opted_out)
    async with db.read_session() as tx:
        params = {"customer_id": customer_id}
        faces = await tx.fetch_one("count_customer_faces", params)
        preferences = await tx.fetch_all("list_preferences", {**params, "limit": 100, "offset": 0})
        recent = await tx.fetch_all("list_memories", {**params, "limit": memories, "offset": 0})
        relevant = None
        if embedding is not None:
            relevant = await nearest_memories(tx, embedding, max(memories, 1), customer_id, None)
        visits = await tx.fetch_all("recent_customer_sessions", {**params, "limit": sessions})
        notes = await tx.fetch_all(
            "coaching_notes_of_sessions",
            {"session_ids": [v["id"] for v in visits], "per_session": NOTES_PER_SESSION},
        )
    if opted_out:  # erased on the primary; a lagging replica may not know yet
        preferences, recent, relevant = [], [], [] if relevant is not None else None
    return {
        "customer": customer,
        "consent": {
            **customer,
            "biometric_writes_allowed": biometrics,
            "memory_writes_allowed": memory_writes_allowed(opted_out),
        },
        "face_embeddings": faces["n"] if faces and biometrics else 0,
        "preferences": preferences,
        "recent_memories": recent,
        "relevant_memories": relevant,
        "recent_sessions": [
            {"session": v, "coaching_notes": [n for n in notes if n["session_id"] == v["id"]]} for v in visits
        ],
    }


async def get_context(call: Call[None, s.ContextQuery]) -> Any:
    """Get a customer's context

    Profile, consent state, preferences (newest 100), the `memories` most recent memories and the
    `sessions` most recent sessions with their coaching notes (newest 20 each).
    """
    q = call.query
    return await context(call.db, call.ids["customer_id"], q.memories, q.sessions, None)


async def post_context(call: Call[s.ContextRequest, None]) -> Any:
    """Get a customer's context, with the memories most relevant to an embedding

    As the GET; with `embedding` (e.g. of what the customer just said) `relevant_memories` also lists their
    nearest memories by cosine distance (exact, over this customer's memories only).
    """
    body = call.body
    return await context(call.db, call.ids["customer_id"], body.memories, body.sessions, body.embedding)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/customers/{customer_id}/context",
        get_context,
        s.CustomerContext,
        "context",
        query=s.ContextQuery,
    ),
    Endpoint(
        "POST",
        "/customers/{customer_id}/context",
        post_context,
        s.CustomerContext,
        "context",
        body=s.ContextRequest,
        body_optional=True,
    ),
]
