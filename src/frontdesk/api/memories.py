"""Memories (text nuggets with embeddings) and preferences: what staff should remember about a customer."""

from __future__ import annotations

from typing import Any

from frontdesk.api import schemas as s
from frontdesk.api.batches import insert_batch
from frontdesk.api.consent import require_consent
from frontdesk.api.customers import customer_page
from frontdesk.api.endpoint import Call, Endpoint
from frontdesk.api.vectors import content_hash


async def add_memories(call: Call[s.MemoryBatch, None]) -> Any:
    """Store memories for a customer

    Refused with 409 `consent_required` once the customer has opted out (until consent is given again).
    One statement, all-or-nothing; `idempotency_hash` defaults to a hash of model, nugget and vector, so a
    retried batch creates no second copy.
    """
    customer_id, items = call.ids["customer_id"], call.body.items
    hashes = [
        i.idempotency_hash or content_hash("memory", i.model_name, i.nugget, i.embedding) for i in items
    ]
    async with call.db.transaction() as tx:
        await require_consent(tx, customer_id, "memory")
        return await insert_batch(
            tx,
            "insert_memories",
            "memory_ids",
            customer_id,
            hashes,
            {
                "nuggets": [i.nugget for i in items],
                "model_names": [i.model_name for i in items],
                "embeddings": [i.embedding.array for i in items],
                "source_session_ids": [i.source_session_id for i in items],
            },
        )


async def add_preferences(call: Call[s.PreferenceBatch, None]) -> Any:
    """Store preferences for a customer

    Refused with 409 `consent_required` once the customer has opted out. All-or-nothing; `idempotency_hash`
    defaults to a hash of kind, value and category.
    """
    customer_id, items = call.ids["customer_id"], call.body.items
    hashes = [i.idempotency_hash or content_hash("preference", i.kind, i.value, i.category) for i in items]
    async with call.db.transaction() as tx:
        await require_consent(tx, customer_id, "memory")
        return await insert_batch(
            tx,
            "insert_preferences",
            "preference_ids",
            customer_id,
            hashes,
            {
                "kinds": [i.kind for i in items],
                "values": [i.value for i in items],
                "categories": [i.category for i in items],
                "source_session_ids": [i.source_session_id for i in items],
            },
        )


async def list_memories(call: Call[None, s.PageQuery]) -> Any:
    """List a customer's memories

    Newest first (without their vectors).
    """
    return await customer_page(call.db, "list_memories", call.ids["customer_id"], call.query)


async def list_preferences(call: Call[None, s.PageQuery]) -> Any:
    """List a customer's preferences

    Newest first.
    """
    return await customer_page(call.db, "list_preferences", call.ids["customer_id"], call.query)


OPTED_OUT = "consent_required: the customer has opted out"

ENDPOINTS = [
    Endpoint(
        "POST",
        "/customers/{customer_id}/memories",
        add_memories,
        s.BatchResult,
        "memories",
        body=s.MemoryBatch,
        conflict=OPTED_OUT,
    ),
    Endpoint(
        "GET",
        "/customers/{customer_id}/memories",
        list_memories,
        s.Page[s.Memory],
        "memories",
        query=s.PageQuery,
    ),
    Endpoint(
        "POST",
        "/customers/{customer_id}/preferences",
        add_preferences,
        s.BatchResult,
        "memories",
        body=s.PreferenceBatch,
        conflict=OPTED_OUT,
    ),
    Endpoint(
        "GET",
        "/customers/{customer_id}/preferences",
        list_preferences,
        s.Page[s.Preference],
        "memories",
        query=s.PageQuery,
    ),
]
