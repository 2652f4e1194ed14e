-- name: opt_out_customer
-- Consent withdrawn and the opt-out stamped (the first one is kept while it lasts); the caller erases the
-- customer's faces, memories and preferences in the same transaction.
UPDATE customers SET
    consent_for_biometrics = false,
    consent_updated_at = now(),
    opted_out_at = coalesce(opted_out_at, now())
WHERE id = %(customer_id)s
RETURNING *;

-- name: lock_customer_for_erasure
SELECT id FROM customers WHERE id = %(customer_id)s FOR UPDATE;

-- name: delete_customer_transcripts
-- Full erasure: the customer's words go with them, even from sessions that stay on the employee's record.
DELETE FROM transcript_chunks t USING sessions s
WHERE t.session_id = s.id AND s.customer_id = %(customer_id)s;

-- name: detach_customer_sessions
UPDATE sessions SET customer_id = NULL WHERE customer_id = %(customer_id)s;

-- name: delete_customer
DELETE FROM customers WHERE id = %(customer_id)s;
