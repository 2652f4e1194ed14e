"""Face search (consent-gated) and memory search (optionally for one customer).

Both read from the read replica when one is configured; their results are then filtered by the primary's
consent state (`consent.allowed_on_primary`).
"""

from __future__ import annotations

import uuid
from typing import Any

from frontdesk.api import schemas as s
from frontdesk.api.consent import allowed_on_primary
from frontdesk.api.endpoint import Call, Endpoint, found
from frontdesk.api.vectors import TextVector
from frontdesk.db import Row, Session

# Face candidates fetched per requested match: a customer with several embeddings near the query takes
# several candidates but yields one match.
FACE_CANDIDATES_PER_MATCH = 10


async def search_faces(call: Call[s.FaceSearch, None]) -> Any:
    """Find customers by face

    Nearest customers by cosine distance, best first, one entry per customer, none farther than
    `max_distance` (default FACE_MATCH_MAX_DISTANCE): an empty list means "no match". Only customers with
    `consent_for_biometrics` who have not opted out can ever appear: the consent filter is part of the scan.
    """
    body = call.body
    max_distance = call.settings.face_match_max_distance if body.max_distance is None else body.max_distance
    async with call.db.read_session() as tx:
        await tx.execute("enable_face_scan", {"ef_search": str(call.settings.face_search_ef_search)})
        rows = await tx.fetch_all(
            "search_faces",
            {
                "embedding": body.embedding.array,
                "max_distance": max_distance,
                "limit": body.limit,
                "candidates": body.limit * FACE_CANDIDATES_PER_MATCH,
            },
        )
    allowed = await allowed_on_primary(call.db, (r["id"] for r in rows), "biometrics")
    matches = [
        {"distance": r["distance"], "face_embedding_id": r["face_embedding_id"], "customer": r}
        for r in rows
        if r["id"] in allowed
    ]
    return {"max_distance": max_distance, "matches": matches}


async def nearest_memories(
    tx: Session, embedding: TextVector, limit: int, customer_id: uuid.UUID | None, max_distance: float | None
) -> list[dict[str, Any]]:
    """Memory matches; for one customer an exact scan of their rows (always `limit` when they have that
    many)."""
    params = {"embedding": embedding.array, "limit": limit, "max_distance": max_distance}
    if customer_id is None:
        await tx.execute("enable_iterative_index_scan")
        rows = await tx.fetch_all("search_memories", params)
    else:
        rows = await tx.fetch_all("search_customer_memories", {**params, "customer_id": customer_id})
    return [memory_match(r) for r in rows]


def memory_match(row: Row) -> dict[str, Any]:
    return {
        "distance": row["distance"],
        "memory": row,
        "customer": {
            "id": row["customer_id"],
            "external_id": row["external_id"],
            "display_name": row["display_name"],
        },
    }


async def search_memories(call: Call[s.MemorySearch, s.MemorySearchQuery]) -> Any:
    """Find memories by meaning

    The `limit` nearest memories by cosine distance (optionally within `max_distance`). With
    `?customer_id=` only that customer's, found by an exact scan of their rows, so a customer with at least
    `limit` memories always gets `limit` results however many other memories there are (404 for an unknown
    customer).
    """
    body, customer_id = call.body, call.query.customer_id
    if customer_id is not None:
        exists = await call.db.fetch_one("customer_exists", {"id": customer_id})
        found(exists, "customer", "customer_id", customer_id, where="query")
    async with call.db.read_session() as tx:
        matches = await nearest_memories(tx, body.embedding, body.limit, customer_id, body.max_distance)
    allowed = await allowed_on_primary(call.db, (m["customer"]["id"] for m in matches), "memory")
    return {"matches": [m for m in matches if m["customer"]["id"] in allowed]}


ENDPOINTS = [
    Endpoint("POST", "/search/face", search_faces, s.FaceSearchResult, "search", body=s.FaceSearch),
    Endpoint(
        "POST",
        "/search/memory",
        search_memories,
        s.MemorySearchResult,
        "search",
        body=s.MemorySearch,
        query=s.MemorySearchQuery,
    ),
]
