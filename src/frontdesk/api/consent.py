"""The consent gate every biometric and memory write goes through.

Biometric writes need `consent_for_biometrics` and no opt-out; memory and preference writes need no opt-out
(they are not biometric, but an opted-out customer asked to be forgotten). The check row-locks the customer
(FOR SHARE) for the rest of the write's transaction, so a concurrent opt-out or consent withdrawal either
runs first (and the write is refused) or waits for the write and then erases it: never a write beside it.

Reads may come from a read replica (DATABASE_READ_URL), which can lag. Whatever such a read returns about a
customer is filtered by the primary's consent state (`allowed_on_primary`), so replica lag can delay a new
row but can never bring back an opted-out customer or a withdrawn face.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Literal

from frontdesk.api.endpoint import found
from frontdesk.db import Database, Session
from frontdesk.errors import ConsentRequired

Purpose = Literal["biometrics", "memory"]


def biometric_writes_allowed(consent_for_biometrics: bool, opted_out: bool) -> bool:
    return consent_for_biometrics and not opted_out


def memory_writes_allowed(opted_out: bool) -> bool:
    return not opted_out


async def require_consent(s: Session, customer_id: uuid.UUID, purpose: Purpose) -> None:
    row = found(
        await s.fetch_one("lock_customer_consent", {"id": customer_id}),
        "customer",
        "customer_id",
        customer_id,
    )
    state = {"consent_for_biometrics": row["consent_for_biometrics"], "opted_out_at": row["opted_out_at"]}
    opted_out = row["opted_out_at"] is not None
    if purpose == "biometrics" and not biometric_writes_allowed(row["consent_for_biometrics"], opted_out):
        why = "has opted out" if opted_out else "has not consented to biometrics"
        raise ConsentRequired(f"customer {customer_id} {why}; no face data is stored for them", state)
    if purpose == "memory" and not memory_writes_allowed(opted_out):
        raise ConsentRequired(
            f"customer {customer_id} has opted out; nothing is remembered until consent is given again", state
        )


async def allowed_on_primary(
    db: Database, customer_ids: Iterable[uuid.UUID], purpose: Purpose
) -> set[uuid.UUID]:
    """The customers among `customer_ids` that the primary says may appear for `purpose`.

    Without a replica the read already ran on the primary under the same filter, so nothing is re-read.
    """
    ids = set(customer_ids)
    if db.read_pool is None or not ids:
        return ids
    rows = await db.fetch_all(
        "customers_still_allowed", {"ids": list(ids), "biometric": purpose == "biometrics"}
    )
    return {row["id"] for row in rows}
