"""Idempotent batch inserts: one statement per batch, all-or-nothing, retries create no second copy.

Each table's insert is `INSERT ... SELECT FROM unnest(...) ON CONFLICT (customer_id, idempotency_hash)
DO NOTHING RETURNING`; a second statement then reads the id of every item's hash. That read is a new
statement, so under READ COMMITTED it also sees a row that a concurrent identical retry committed while this
insert waited on it (the insert skipped it), and every item can be reported with its id.
"""

from __future__ import annotations

import uuid
from typing import Any

from frontdesk.db import Session


async def insert_batch(
    s: Session, insert: str, ids: str, customer_id: uuid.UUID, hashes: list[str], columns: dict[str, Any]
) -> dict[str, Any]:
    """Run `insert` with the batch `columns`, then report each item as created or already present."""
    keys = {"customer_id": customer_id, "idempotency_hashes": hashes}
    created = {row["idempotency_hash"] for row in await s.fetch_all(insert, {**keys, **columns})}
    stored = {row["idempotency_hash"]: row["id"] for row in await s.fetch_all(ids, keys)}
    items, seen = [], set()
    for index, key in enumerate(hashes):
        # A hash repeated inside one batch is stored once: the first occurrence is the one created.
        items.append(
            {
                "index": index,
                "id": stored[key],
                "idempotency_hash": key,
                "created": key in created and key not in seen,
            }
        )
        seen.add(key)
    made = sum(item["created"] for item in items)
    return {"created": made, "existing": len(items) - made, "items": items}
