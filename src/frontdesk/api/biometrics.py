"""Face embeddings: the biometric data, stored only with consent and never sent back out."""

from __future__ import annotations

from typing import Any

from frontdesk.api import schemas as s
from frontdesk.api.batches import insert_batch
from frontdesk.api.consent import require_consent
from frontdesk.api.customers import customer_page
from frontdesk.api.endpoint import Call, Endpoint
from frontdesk.api.vectors import content_hash


async def add_faces(call: Call[s.FaceBatch, None]) -> Any:
    """Store face embeddings for a customer

    Refused with 409 `consent_required` unless the customer has `consent_for_biometrics` and has not opted
    out. The batch is one statement, all-or-nothing; an item whose `idempotency_hash` (default: a hash of
    its model and vector) is stored already is reported as `created: false`, so retries are safe.
    """
    customer_id, items = call.ids["customer_id"], call.body.items
    hashes = [i.idempotency_hash or content_hash("face", i.model_name, i.embedding) for i in items]
    async with call.db.transaction() as tx:
        await require_consent(tx, customer_id, "biometrics")
        return await insert_batch(
            tx,
            "insert_face_embeddings",
            "face_embedding_ids",
            customer_id,
            hashes,
            {
                "model_names": [i.model_name for i in items],
                "embeddings": [i.embedding.array for i in items],
                "source_session_ids": [i.source_session_id for i in items],
            },
        )


async def list_faces(call: Call[None, s.PageQuery]) -> Any:
    """List a customer's face embeddings

    Their records (model, source, time), newest first; the vectors stay in the database.
    """
    return await customer_page(call.db, "list_face_embeddings", call.ids["customer_id"], call.query)


CONSENT = "consent_required: the customer has not consented to biometrics, or has opted out"

ENDPOINTS = [
    Endpoint(
        "POST",
        "/customers/{customer_id}/faces",
        add_faces,
        s.BatchResult,
        "biometrics",
        body=s.FaceBatch,
        conflict=CONSENT,
    ),
    Endpoint(
        "GET",
        "/customers/{customer_id}/faces",
        list_faces,
        s.Page[s.FaceEmbedding],
        "biometrics",
        query=s.PageQuery,
    ),
]
