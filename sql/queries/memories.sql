-- name: insert_memories
-- The whole batch in one statement; already-stored (customer, idempotency_hash) items are skipped.
INSERT INTO customer_memory (customer_id, nugget, model_name, embedding, source_session_id, idempotency_hash)
SELECT %(customer_id)s, nugget, model_name, embedding, source_session_id, idempotency_hash
FROM unnest(%(nuggets)s::text[], %(model_names)s::text[], %(embeddings)b::vector[],
            %(source_session_ids)s::uuid[], %(idempotency_hashes)s::text[])
     AS t (nugget, model_name, embedding, source_session_id, idempotency_hash)
ON CONFLICT (customer_id, idempotency_hash) DO NOTHING
RETURNING id, idempotency_hash;

-- name: memory_ids
SELECT id, idempotency_hash FROM customer_memory
WHERE customer_id = %(customer_id)s AND idempotency_hash = ANY(%(idempotency_hashes)s::text[]);

-- name: list_memories
-- Newest first (customer_memory_customer_idx).
SELECT id, customer_id, nugget, model_name, source_session_id, idempotency_hash, created_at
FROM customer_memory
WHERE customer_id = %(customer_id)s
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: delete_customer_memories
DELETE FROM customer_memory WHERE customer_id = %(customer_id)s;

-- name: insert_preferences
INSERT INTO customer_preferences (customer_id, kind, value, category, source_session_id, idempotency_hash)
SELECT %(customer_id)s, kind, value, category, source_session_id, idempotency_hash
FROM unnest(%(kinds)s::text[], %(values)s::text[], %(categories)s::text[], %(source_session_ids)s::uuid[],
            %(idempotency_hashes)s::text[])
     AS t (kind, value, category, source_session_id, idempotency_hash)
ON CONFLICT (customer_id, idempotency_hash) DO NOTHING
RETURNING id, idempotency_hash;

-- name: preference_ids
SELECT id, idempotency_hash FROM customer_preferences
WHERE customer_id = %(customer_id)s AND idempotency_hash = ANY(%(idempotency_hashes)s::text[]);

-- name: list_preferences
SELECT * FROM customer_preferences
WHERE customer_id = %(customer_id)s
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: delete_customer_preferences
DELETE FROM customer_preferences WHERE customer_id = %(customer_id)s;
