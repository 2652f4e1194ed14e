-- 0002: what the data API needs beside the 0001 schema.
--
-- Preference batches are idempotent like face and memory batches: a retried batch must not add a second
-- copy, so preferences get the same (customer_id, idempotency_hash) key (NULLs never conflict, so rows
-- written before this migration stay valid).
ALTER TABLE customer_preferences
    ADD COLUMN idempotency_hash text CHECK (length(idempotency_hash) BETWEEN 1 AND 256),
    ADD CONSTRAINT customer_preferences_customer_id_idempotency_hash_key UNIQUE (customer_id, idempotency_hash);

-- List endpoints page in (created_at, id) order; these keep a deep page from sorting the whole table.
CREATE INDEX customers_created_idx ON customers (created_at, id);
CREATE INDEX employees_created_idx ON employees (created_at, id);
