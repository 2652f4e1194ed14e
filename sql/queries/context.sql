-- name: count_customer_faces
SELECT count(*) AS n FROM customer_face_embeddings WHERE customer_id = %(customer_id)s;

-- name: recent_customer_sessions
SELECT * FROM sessions WHERE customer_id = %(customer_id)s
ORDER BY started_at DESC, id
LIMIT %(limit)s;

-- name: coaching_notes_of_sessions
-- The newest notes of each given session (at most `per_session` each).
SELECT id, session_id, content, created_at FROM (
    SELECT n.*, row_number() OVER (PARTITION BY n.session_id ORDER BY n.created_at DESC, n.id DESC) AS rank
    FROM coaching_notes n
    WHERE n.session_id = ANY(%(session_ids)s::uuid[])
) ranked
WHERE rank <= %(per_session)s
ORDER BY created_at DESC, id DESC;
