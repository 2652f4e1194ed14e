-- name: enable_iterative_scan
-- For this transaction only: let an HNSW scan go on past hnsw.ef_search candidates while rows are being
-- filtered out (pgvector 0.8), so a filter cannot starve the result. relaxed_order may return rows slightly
-- out of order, which is why the searches below re-sort.
SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true);

-- name: enable_iterative_index_scan
-- As enable_iterative_scan, and no sequential scan for this transaction. Memory vectors (1536-d) are stored
-- out of line (TOAST), so the planner prices a full scan of customer_memory far below its real cost and,
-- with hnsw.ef_search 100, chose it over the HNSW index at 100k rows: 300 ms instead of 5 ms
-- (docs/benchmarks.md). The unfiltered memory search only; the customer filter keeps its own plan.
SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('enable_seqscan', 'off', true);

-- name: enable_face_scan
-- As enable_iterative_scan, with face search's own hnsw.ef_search (FACE_SEARCH_EF_SEARCH, default 400): at
-- 100k clustered faces ef_search 100 found the exact scan's identity for 0.984 of queries, 400 for 1.000,
-- at +0.8 ms p50 (docs/benchmarks.md, the ef_search sweep).
SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %(ef_search)s, true);

-- name: search_faces
-- Nearest face embeddings of consented, not opted-out customers only (the consent filter is part of the
-- scan: a non-consented face can never be a candidate), then the best face per customer within the
-- threshold, best first. `candidates` over-fetches so customers with several embeddings still fill `limit`.
WITH nearest AS MATERIALIZED (
    SELECT f.id AS face_embedding_id, f.customer_id, f.embedding <=> %(embedding)b AS distance
    FROM customer_face_embeddings f
    JOIN customers c ON c.id = f.customer_id
    WHERE c.consent_for_biometrics AND c.opted_out_at IS NULL
    ORDER BY f.embedding <=> %(embedding)b
    LIMIT %(candidates)s
), best AS (
    SELECT DISTINCT ON (customer_id) customer_id, face_embedding_id, distance
    FROM nearest
    WHERE distance <= %(max_distance)s
    ORDER BY customer_id, distance
)
SELECT b.distance, b.face_embedding_id, c.id, c.external_id, c.display_name
FROM best b
JOIN customers c ON c.id = b.customer_id
WHERE c.consent_for_biometrics AND c.opted_out_at IS NULL
ORDER BY b.distance, c.id
LIMIT %(limit)s;

-- name: search_memories
-- Nearest memories over all customers (HNSW; iterative scan on, re-sorted). An opted-out customer's rows are
-- erased, and filtered here too (part of the scan, as for faces), so that one written behind the API's back
-- can never be found.
WITH nearest AS MATERIALIZED (
    SELECT m.*, m.embedding <=> %(embedding)b AS distance
    FROM customer_memory m
    JOIN customers c ON c.id = m.customer_id
    WHERE c.opted_out_at IS NULL
    ORDER BY m.embedding <=> %(embedding)b
    LIMIT %(limit)s
)
SELECT n.distance, n.id, n.customer_id, n.nugget, n.model_name, n.source_session_id, n.idempotency_hash,
       n.created_at, c.external_id, c.display_name
FROM nearest n
JOIN customers c ON c.id = n.customer_id
WHERE %(max_distance)s::float8 IS NULL OR n.distance <= %(max_distance)s
ORDER BY n.distance, n.id;

-- name: search_customer_memories
-- Nearest memories of one customer, exact: every one of the customer's rows is scored (found through
-- customer_memory_customer_idx) and sorted. MATERIALIZED pins that plan; an HNSW scan filtered to one
-- customer among many returns too few rows, even with iterative scans (measured in docs/api.md).
WITH mine AS MATERIALIZED (
    SELECT m.*, m.embedding <=> %(embedding)b AS distance
    FROM customer_memory m
    WHERE m.customer_id = %(customer_id)s
)
SELECT n.distance, n.id, n.customer_id, n.nugget, n.model_name, n.source_session_id, n.idempotency_hash,
       n.created_at, c.external_id, c.display_name
FROM mine n
JOIN customers c ON c.id = n.customer_id
WHERE c.opted_out_at IS NULL AND (%(max_distance)s::float8 IS NULL OR n.distance <= %(max_distance)s)
ORDER BY n.distance, n.id
LIMIT %(limit)s;
