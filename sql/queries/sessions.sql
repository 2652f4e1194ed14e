-- name: create_session
INSERT INTO sessions (employee_id, session_key, customer_id, metadata, started_at)
VALUES (%(employee_id)s, %(session_key)s, %(customer_id)s, %(metadata)s, coalesce(%(started_at)s, now()))
RETURNING *;

-- name: get_session
SELECT * FROM sessions WHERE id = %(id)s;

-- name: list_sessions
-- Newest first, optionally for one employee and/or customer (limit is one more than the page size).
SELECT * FROM sessions
WHERE (%(employee_id)s::uuid IS NULL OR employee_id = %(employee_id)s)
  AND (%(customer_id)s::uuid IS NULL OR customer_id = %(customer_id)s)
ORDER BY started_at DESC, id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: attach_session_customer
UPDATE sessions SET customer_id = %(customer_id)s WHERE id = %(id)s RETURNING *;

-- name: end_session
-- Idempotent: an ended session keeps its first end time.
UPDATE sessions SET ended_at = coalesce(ended_at, %(ended_at)s, now()) WHERE id = %(id)s RETURNING *;

-- name: session_exists
SELECT id FROM sessions WHERE id = %(id)s;

-- name: insert_transcript_chunks
-- One statement for the whole batch; chunks already stored at an index are skipped (and checked after).
INSERT INTO transcript_chunks (session_id, chunk_index, content)
SELECT %(session_id)s, chunk_index, content
FROM unnest(%(chunk_indexes)s::integer[], %(contents)s::text[]) AS t (chunk_index, content)
ON CONFLICT (session_id, chunk_index) DO NOTHING
RETURNING id, chunk_index;

-- name: transcript_chunks_at
-- The stored chunks at the given indexes (after an insert: the ones that were there already).
SELECT id, chunk_index, content FROM transcript_chunks
WHERE session_id = %(session_id)s AND chunk_index = ANY(%(chunk_indexes)s::integer[]);

-- name: list_transcript_chunks
SELECT * FROM transcript_chunks
WHERE session_id = %(session_id)s AND chunk_index > %(after_index)s
ORDER BY chunk_index
LIMIT %(limit)s;

-- name: create_coaching_note
INSERT INTO coaching_notes (session_id, content) VALUES (%(session_id)s, %(content)s) RETURNING *;

-- name: list_coaching_notes
SELECT * FROM coaching_notes WHERE session_id = %(session_id)s
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;
