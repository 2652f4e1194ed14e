-- 0001: the consented customer/employee interaction schema.
-- Migration files are psycopg.sql templates: {face_dim} and {text_dim} are filled from the settings when
-- the schema is first created (a literal brace would be written twice).
--
-- ON DELETE rules (see docs/privacy.md):
--   * everything that is *about a customer* (faces, memories, preferences) goes with the customer (CASCADE);
--   * sessions belong to the employee's record: deleting a customer detaches them (SET NULL);
--   * an employee with sessions cannot be deleted by accident (RESTRICT);
--   * transcript chunks and coaching notes live and die with their session (CASCADE).

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    external_id text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 256),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 256),
    consent_for_biometrics boolean NOT NULL DEFAULT false,
    notes text,
    consent_updated_at timestamptz,
    opted_out_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employees (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    external_id text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 256),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 256),
    notes text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    employee_id uuid NOT NULL REFERENCES employees (id) ON DELETE RESTRICT,
    session_key text NOT NULL UNIQUE CHECK (length(session_key) BETWEEN 1 AND 256),
    customer_id uuid REFERENCES customers (id) ON DELETE SET NULL,
    metadata jsonb NOT NULL DEFAULT jsonb_build_object(),
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX sessions_employee_started_idx ON sessions (employee_id, started_at DESC);
CREATE INDEX sessions_customer_started_idx ON sessions (customer_id, started_at DESC) WHERE customer_id IS NOT NULL;

CREATE TABLE transcript_chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chunk_index integer NOT NULL CHECK (chunk_index >= 0),
    content text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, chunk_index)
);

CREATE TABLE customer_face_embeddings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    model_name text NOT NULL CHECK (length(model_name) BETWEEN 1 AND 256),
    embedding vector({face_dim}) NOT NULL,
    source_session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    idempotency_hash text CHECK (length(idempotency_hash) BETWEEN 1 AND 256),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_hash)
);
CREATE INDEX customer_face_embeddings_customer_idx ON customer_face_embeddings (customer_id);
CREATE INDEX customer_face_embeddings_hnsw_idx ON customer_face_embeddings USING hnsw (embedding vector_cosine_ops);

CREATE TABLE customer_preferences (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 256),
    value text NOT NULL,
    category text,
    source_session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_preferences_customer_idx ON customer_preferences (customer_id, created_at DESC);

CREATE TABLE customer_memory (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    nugget text NOT NULL CHECK (length(nugget) >= 1),
    model_name text NOT NULL CHECK (length(model_name) BETWEEN 1 AND 256),
    embedding vector({text_dim}) NOT NULL,
    source_session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    idempotency_hash text CHECK (length(idempotency_hash) BETWEEN 1 AND 256),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_hash)
);
CREATE INDEX customer_memory_customer_idx ON customer_memory (customer_id, created_at DESC);
CREATE INDEX customer_memory_hnsw_idx ON customer_memory USING hnsw (embedding vector_cosine_ops);

CREATE TABLE coaching_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    content text NOT NULL CHECK (length(content) >= 1),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coaching_notes_session_idx ON coaching_notes (session_id, created_at DESC);
