-- name: insert_face_embeddings
-- The whole batch in one statement (vectors sent as one binary vector[] parameter). Items whose
-- (customer, idempotency_hash) is stored already are skipped; the caller reads their ids afterwards.
INSERT INTO customer_face_embeddings (customer_id, model_name, embedding, source_session_id, idempotency_hash)
SELECT %(customer_id)s, model_name, embedding, source_session_id, idempotency_hash
FROM unnest(%(model_names)s::text[], %(embeddings)b::vector[], %(source_session_ids)s::uuid[],
            %(idempotency_hashes)s::text[])
     AS t (model_name, embedding, source_session_id, idempotency_hash)
ON CONFLICT (customer_id, idempotency_hash) DO NOTHING
RETURNING id, idempotency_hash;

-- name: face_embedding_ids
-- id by idempotency_hash, for reporting a batch (a new statement: it sees rows a concurrent retry committed).
SELECT id, idempotency_hash FROM customer_face_embeddings
WHERE customer_id = %(customer_id)s AND idempotency_hash = ANY(%(idempotency_hashes)s::text[]);

-- name: list_face_embeddings
SELECT id, customer_id, model_name, source_session_id, idempotency_hash, created_at
FROM customer_face_embeddings
WHERE customer_id = %(customer_id)s
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: delete_customer_faces
DELETE FROM customer_face_embeddings WHERE customer_id = %(customer_id)s;
