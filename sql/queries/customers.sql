-- name: create_customer
-- A new customer; giving consent at creation stamps consent_updated_at.
INSERT INTO customers (external_id, display_name, consent_for_biometrics, notes, consent_updated_at)
VALUES (%(external_id)s, %(display_name)s, %(consent_for_biometrics)s, %(notes)s,
        CASE WHEN %(consent_for_biometrics)s THEN now() END)
RETURNING *;

-- name: get_customer
SELECT * FROM customers WHERE id = %(id)s;

-- name: list_customers
-- One page in creation order (limit is one more than the page size, to tell whether a next page exists).
SELECT * FROM customers
WHERE %(external_id)s::text IS NULL OR external_id = %(external_id)s
ORDER BY created_at, id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: update_customer
-- Only the given fields change (null parameter = keep; notes use a flag since null clears them). A consent
-- change is stamped; consent given again lifts an opt-out. The caller erases faces when consent goes false.
UPDATE customers SET
    external_id = coalesce(%(external_id)s, external_id),
    display_name = coalesce(%(display_name)s, display_name),
    notes = CASE WHEN %(set_notes)s THEN %(notes)s ELSE notes END,
    consent_for_biometrics = coalesce(%(consent)s::boolean, consent_for_biometrics),
    consent_updated_at = CASE
        WHEN %(consent)s::boolean IS DISTINCT FROM consent_for_biometrics AND %(consent)s::boolean IS NOT NULL
        THEN now() ELSE consent_updated_at END,
    opted_out_at = CASE WHEN %(consent)s::boolean THEN NULL ELSE opted_out_at END
WHERE id = %(id)s
RETURNING *;

-- name: lock_customer_consent
-- The customer's consent state, row-locked against a concurrent opt-out or consent change until this
-- transaction ends (FOR SHARE conflicts with their UPDATE), so no write slips in beside an erasure.
SELECT id, consent_for_biometrics, opted_out_at FROM customers WHERE id = %(id)s FOR SHARE;

-- name: customer_exists
SELECT id FROM customers WHERE id = %(id)s;

-- name: customers_still_allowed
-- Of these customers, the ones the primary says may still appear (for results read on a lagging replica):
-- not opted out, and with biometric consent when `biometric`.
SELECT id FROM customers
WHERE id = ANY(%(ids)s::uuid[]) AND opted_out_at IS NULL AND (NOT %(biometric)s OR consent_for_biometrics);
