"""The schema: created by numbered migrations, applied once, safe under concurrent starts, and guarded
against a dimension change."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from frontdesk import migrations

TABLES = {
    "customers", "employees", "sessions", "transcript_chunks", "customer_face_embeddings",
    "customer_preferences", "customer_memory", "coaching_notes", "schema_migrations",
}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_a_fresh_database_gets_the_whole_schema(new_database: Callable[..., str]) -> None:
    url = new_database(template=False)
    applied = migrations.migrate(url, 512, 1536)
    assert applied == [m.version for m in migrations.discover()]
    assert tables(url) >= TABLES
    assert migrations.schema_dimensions(url) == {"FACE_EMBEDDING_DIM": 512, "TEXT_EMBEDDING_DIM": 1536}
    with psycopg.connect(url) as conn:
        indexes = {r[0]: r[1] for r in conn.execute("SELECT indexname, indexdef FROM pg_indexes")}
    for name in ("customer_face_embeddings_hnsw_idx", "customer_memory_hnsw_idx"):
        assert "USING hnsw" in indexes[name] and "vector_cosine_ops" in indexes[name]


def test_a_second_start_applies_nothing(new_database: Callable[..., str]) -> None:
    url = new_database(template=False)
    migrations.migrate(url, 512, 1536)
    assert migrations.migrate(url, 512, 1536) == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(migrations.discover()),)


def test_concurrent_migrators_do_not_conflict(new_database: Callable[..., str]) -> None:
    url = new_database(template=False)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: migrations.migrate(url, 512, 1536), range(4)))
    everything = [m.version for m in migrations.discover()]
    assert sorted(results, key=len) == [[], [], [], everything]
    assert tables(url) >= TABLES


def test_dimensions_come_from_the_settings_at_creation(new_database: Callable[..., str]) -> None:
    url = new_database(template=False)
    migrations.migrate(url, 128, 384)
    assert migrations.schema_dimensions(url) == {"FACE_EMBEDDING_DIM": 128, "TEXT_EMBEDDING_DIM": 384}


def test_a_dimension_mismatch_is_refused_naming_both_numbers(new_database: Callable[..., str]) -> None:
    url = new_database(template=False)
    migrations.migrate(url, 512, 1536)
    with pytest.raises(migrations.SchemaMismatch) as err:
        migrations.check_dimensions(url, 128, 1536)
    message = str(err.value)
    assert "FACE_EMBEDDING_DIM=128" in message and "vector(512)" in message
    assert "TEXT_EMBEDDING_DIM" not in message
    migrations.check_dimensions(url, 512, 1536)  # matching settings pass


def test_the_migrate_command_refuses_a_mismatch_and_names_both(new_database: Callable[..., str]) -> None:
    url = new_database(template=False)
    env = {**os.environ, "DATABASE_URL": url, "TEXT_EMBEDDING_DIM": "384"}
    first = subprocess.run([sys.executable, "-m", "frontdesk", "migrate"], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "applied 0001" in first.stdout
    env["TEXT_EMBEDDING_DIM"] = "768"
    second = subprocess.run([sys.executable, "-m", "frontdesk", "migrate"], env=env, capture_output=True, text=True)
    assert second.returncode != 0
    assert "TEXT_EMBEDDING_DIM=768" in second.stderr and "vector(384)" in second.stderr


def test_a_bad_setting_stops_the_command_with_its_name() -> None:
    env = {**os.environ, "FACE_EMBEDDING_DIM": "4096"}
    result = subprocess.run([sys.executable, "-m", "frontdesk", "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "FACE_EMBEDDING_DIM must be an integer in 1..2000" in result.stderr
