"""Opt-out and full erasure: what a customer can ask of us, done in one transaction each (docs/privacy.md)."""

from __future__ import annotations

from typing import Any

from frontdesk.api import erasure_log
from frontdesk.api import schemas as s
from frontdesk.api.endpoint import Call, Endpoint, found


async def opt_out(call: Call[None, None]) -> Any:
    """Opt a customer out: stop recognising and remembering them

    In one transaction: consent set false, `opted_out_at` stamped, and every face embedding, memory and
    preference of the customer deleted; the answer counts what was erased. Afterwards face, memory and
    preference writes for them are refused (409 consent_required) and no search returns them, until consent
    is given again (PATCH `consent_for_biometrics: true`). The profile row stays, so the opt-out itself is
    remembered; DELETE the customer to erase that too. Repeating an opt-out is harmless.
    """
    customer_id = call.ids["customer_id"]
    params = {"customer_id": customer_id}
    async with call.db.transaction() as tx:
        customer = found(
            await tx.fetch_one("opt_out_customer", params), "customer", "customer_id", customer_id
        )
        erased = {
            "face_embeddings": await tx.execute("delete_customer_faces", params),
            "memories": await tx.execute("delete_customer_memories", params),
            "preferences": await tx.execute("delete_customer_preferences", params),
        }
    erasure_log.record("opt_out", customer_id, erased)
    return {"customer": customer, "erased": erased}


async def erase_customer(call: Call[None, None]) -> Any:
    """Erase a customer completely

    In one transaction: the customer's face embeddings, memories and preferences, the transcript chunks of
    every session they were in, and the customer row itself are deleted. Their sessions stay on the
    employee's record (with their coaching notes) but are detached (customer_id null). Answers what went.
    """
    customer_id = call.ids["customer_id"]
    params = {"customer_id": customer_id}
    async with call.db.transaction() as tx:
        found(await tx.fetch_one("lock_customer_for_erasure", params), "customer", "customer_id", customer_id)
        result = {
            "customer_id": customer_id,
            "face_embeddings": await tx.execute("delete_customer_faces", params),
            "memories": await tx.execute("delete_customer_memories", params),
            "preferences": await tx.execute("delete_customer_preferences", params),
            "transcript_chunks": await tx.execute("delete_customer_transcripts", params),
            "sessions_detached": await tx.execute("detach_customer_sessions", params),
        }
        await tx.execute("delete_customer", params)
    erasure_log.record("delete", customer_id, {k: v for k, v in result.items() if isinstance(v, int)})
    return result


ENDPOINTS = [
    Endpoint("POST", "/customers/{customer_id}/opt-out", opt_out, s.OptOutResult, "privacy"),
    Endpoint("DELETE", "/customers/{customer_id}", erase_customer, s.ErasureResult, "privacy"),
]
