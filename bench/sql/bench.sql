-- Statements only the benchmarks run: bulk loads, index (re)builds, and the search variants that the
-- product rejected (kept here so the report can show why). Loaded with frontdesk.queries.parse_queries.
-- Names ending in _ddl are psycopg.sql templates ({m}, {ef_construction} filled in as literals).

-- name: build_memory
SELECT set_config('maintenance_work_mem', '2GB', false), set_config('max_parallel_maintenance_workers', '1', false);

-- name: copy_customers
COPY customers (id, external_id, display_name, consent_for_biometrics) FROM STDIN (FORMAT BINARY);

-- name: copy_faces
COPY customer_face_embeddings (customer_id, model_name, embedding) FROM STDIN (FORMAT BINARY);

-- name: copy_memories
COPY customer_memory (customer_id, nugget, model_name, embedding, idempotency_hash) FROM STDIN (FORMAT BINARY);

-- name: drop_face_index_ddl
DROP INDEX IF EXISTS customer_face_embeddings_hnsw_idx;

-- name: create_face_index_ddl
-- The migration's index, with the build parameters under test (pgvector's defaults: m 16, ef_construction 64).
CREATE INDEX customer_face_embeddings_hnsw_idx ON customer_face_embeddings
USING hnsw (embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction});

-- name: drop_memory_index_ddl
DROP INDEX IF EXISTS customer_memory_hnsw_idx;

-- name: create_memory_index_ddl
CREATE INDEX customer_memory_hnsw_idx ON customer_memory
USING hnsw (embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction});

-- name: analyze
ANALYZE;

-- name: set_ef_search
SELECT set_config('hnsw.ef_search', %(ef_search)s, true);

-- name: exact_scan
-- For this transaction: no index scans, so the same search query becomes an exact scan and sort.
SELECT set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true);

-- name: iterative_scan_off
SELECT set_config('hnsw.iterative_scan', 'off', true);

-- name: iterative_scan_strict
SELECT set_config('hnsw.iterative_scan', 'strict_order', true);

-- name: memories_hnsw_where_customer
-- Rejected: the HNSW scan with the customer as a filter. Without iterative scans it returns what is left
-- of ef_search candidates after filtering (about ef_search / customers rows); with them it scans on.
SELECT m.embedding <=> %(embedding)b AS distance, m.id, m.customer_id
FROM customer_memory m
WHERE m.customer_id = %(customer_id)s
ORDER BY m.embedding <=> %(embedding)b
LIMIT %(limit)s;

-- name: truncate_memories
TRUNCATE customer_memory;

-- name: force_hnsw
-- For this transaction: make the planner take the HNSW index for a filtered query (it would otherwise
-- often pick the customer_id btree and a sort, which is the product's exact plan).
SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true);

-- name: no_seqscan
-- The proposed fix for the unfiltered memory search (see docs/benchmarks.md): vectors stored out of line
-- make the planner price a sequential scan far below its cost, so it skips the HNSW index.
SELECT set_config('enable_seqscan', 'off', true);
