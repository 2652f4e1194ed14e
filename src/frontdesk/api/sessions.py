"""Sessions (one employee, at most one customer), their transcript chunks and coaching notes."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from frontdesk.api import schemas as s
from frontdesk.api.endpoint import Call, Endpoint, found, page
from frontdesk.db import Session
from frontdesk.errors import Conflict, ValidationFailed


async def create_session(call: Call[s.SessionCreate, None]) -> Any:
    """Start a session

    `employee_id` (and `customer_id`, if given) must exist (404 otherwise); `session_key` is unique (409).
    """
    body = call.body
    return await call.db.fetch_one(
        "create_session",
        {
            "employee_id": body.employee_id,
            "session_key": body.session_key,
            "customer_id": body.customer_id,
            "metadata": Jsonb(body.metadata),
            "started_at": body.started_at,
        },
    )


async def list_sessions(call: Call[None, s.SessionListQuery]) -> Any:
    """List sessions

    Newest first, optionally of one employee and/or one customer.
    """
    q = call.query
    rows = await call.db.fetch_all(
        "list_sessions",
        {
            "employee_id": q.employee_id,
            "customer_id": q.customer_id,
            "limit": q.limit + 1,
            "offset": q.offset,
        },
    )
    return page(rows, q.limit, q.offset)


async def get_session(call: Call[None, None]) -> Any:
    """Get a session"""
    session_id = call.ids["session_id"]
    return found(
        await call.db.fetch_one("get_session", {"id": session_id}), "session", "session_id", session_id
    )


async def attach_customer(call: Call[s.SessionAttach, None]) -> Any:
    """Attach a customer to a session (or detach with null)"""
    session_id = call.ids["session_id"]
    row = await call.db.fetch_one(
        "attach_session_customer", {"id": session_id, "customer_id": call.body.customer_id}
    )
    return found(row, "session", "session_id", session_id)


async def end_session(call: Call[s.SessionEnd, None]) -> Any:
    """End a session

    `ended_at` defaults to now and may not precede `started_at` (422). Ending twice keeps the first end.
    """
    session_id = call.ids["session_id"]
    row = await call.db.fetch_one("end_session", {"id": session_id, "ended_at": call.body.ended_at})
    return found(row, "session", "session_id", session_id)


async def _require_session(tx: Session, session_id: uuid.UUID) -> None:
    found(await tx.fetch_one("session_exists", {"id": session_id}), "session", "session_id", session_id)


async def append_transcript(call: Call[s.TranscriptBatch, None]) -> Any:
    """Append transcript chunks

    All-or-nothing, one statement. Idempotent on (session, chunk_index): a chunk already stored with the
    same content is reported as present (`created: false`); with different content the whole batch is
    refused (409), since two versions of one chunk mean a client bug.
    """
    session_id, chunks = call.ids["session_id"], call.body.chunks
    first: dict[int, int] = {}
    for index, chunk in enumerate(chunks):
        earlier = first.setdefault(chunk.chunk_index, index)
        if earlier != index and chunks[earlier].content != chunk.content:
            raise ValidationFailed(
                f"chunk_index {chunk.chunk_index} appears twice with different content",
                {"path": f"$.chunks[{index}].chunk_index"},
            )
    indexes = [c.chunk_index for c in chunks]
    async with call.db.transaction() as tx:
        await _require_session(tx, session_id)
        params = {"session_id": session_id, "chunk_indexes": indexes}
        created = {
            r["chunk_index"]
            for r in await tx.fetch_all(
                "insert_transcript_chunks", {**params, "contents": [c.content for c in chunks]}
            )
        }
        stored = {r["chunk_index"]: r for r in await tx.fetch_all("transcript_chunks_at", params)}
        items = []
        for index, chunk in enumerate(chunks):
            row = stored[chunk.chunk_index]
            if row["content"] != chunk.content:
                raise Conflict(
                    f"chunk_index {chunk.chunk_index} is stored with different content",
                    {"path": f"$.chunks[{index}].content"},
                )
            items.append(
                {
                    "index": index,
                    "chunk_index": chunk.chunk_index,
                    "id": row["id"],
                    "created": chunk.chunk_index in created and first[chunk.chunk_index] == index,
                }
            )
    made = sum(item["created"] for item in items)
    return {"created": made, "existing": len(items) - made, "items": items}


async def list_transcript(call: Call[None, s.TranscriptQuery]) -> Any:
    """Read a session's transcript

    In chunk_index order, `limit` chunks after `after_index` (keyset paging: pass `next_after_index` back).
    """
    session_id, q = call.ids["session_id"], call.query
    async with call.db.transaction() as tx:
        await _require_session(tx, session_id)
        rows = await tx.fetch_all(
            "list_transcript_chunks",
            {"session_id": session_id, "after_index": q.after_index, "limit": q.limit + 1},
        )
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return {"items": rows, "next_after_index": rows[-1]["chunk_index"] if more else None}


async def add_coaching_note(call: Call[s.CoachingNoteCreate, None]) -> Any:
    """Add a coaching note to a session"""
    session_id = call.ids["session_id"]
    async with call.db.transaction() as tx:
        await _require_session(tx, session_id)
        return await tx.fetch_one(
            "create_coaching_note", {"session_id": session_id, "content": call.body.content}
        )


async def list_coaching_notes(call: Call[None, s.PageQuery]) -> Any:
    """List a session's coaching notes

    Newest first.
    """
    session_id, q = call.ids["session_id"], call.query
    async with call.db.transaction() as tx:
        await _require_session(tx, session_id)
        rows = await tx.fetch_all(
            "list_coaching_notes", {"session_id": session_id, "limit": q.limit + 1, "offset": q.offset}
        )
    return page(rows, q.limit, q.offset)


_KEY_TAKEN = "session_key is taken by another session"

ENDPOINTS = [
    Endpoint(
        "POST",
        "/sessions",
        create_session,
        s.Session,
        "sessions",
        body=s.SessionCreate,
        status=201,
        conflict=_KEY_TAKEN,
    ),
    Endpoint("GET", "/sessions", list_sessions, s.Page[s.Session], "sessions", query=s.SessionListQuery),
    Endpoint("GET", "/sessions/{session_id}", get_session, s.Session, "sessions"),
    Endpoint(
        "POST",
        "/sessions/{session_id}/customer",
        attach_customer,
        s.Session,
        "sessions",
        body=s.SessionAttach,
    ),
    Endpoint(
        "POST",
        "/sessions/{session_id}/end",
        end_session,
        s.Session,
        "sessions",
        body=s.SessionEnd,
        body_optional=True,
    ),
    Endpoint(
        "POST",
        "/sessions/{session_id}/transcript",
        append_transcript,
        s.TranscriptBatchResult,
        "sessions",
        body=s.TranscriptBatch,
        conflict="a chunk_index is stored with different content",
    ),
    Endpoint(
        "GET",
        "/sessions/{session_id}/transcript",
        list_transcript,
        s.TranscriptPage,
        "sessions",
        query=s.TranscriptQuery,
    ),
    Endpoint(
        "POST",
        "/sessions/{session_id}/coaching-notes",
        add_coaching_note,
        s.CoachingNote,
        "sessions",
        body=s.CoachingNoteCreate,
        status=201,
    ),
    Endpoint(
        "GET",
        "/sessions/{session_id}/coaching-notes",
        list_coaching_notes,
        s.Page[s.CoachingNote],
        "sessions",
        query=s.PageQuery,
    ),
]
