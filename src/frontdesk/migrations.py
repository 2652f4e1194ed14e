"""Numbered SQL migrations from `sql/migrations/`, applied in order, each in its own transaction.

Applied versions are recorded in `schema_migrations`. A Postgres advisory lock serialises migrators, so two
instances starting at once do not race. The vector dimensions are fixed when the schema is first created;
`check_dimensions` refuses a later start whose settings disagree with the catalog.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from frontdesk.queries import SQL_DIR

MIGRATIONS_DIR = SQL_DIR / "migrations"
# An arbitrary, fixed 64-bit key: "frontdesk" in ASCII, for pg_advisory_lock.
ADVISORY_LOCK_KEY = 0x66726F6E74646B
_FILENAME = re.compile(r"^(\d{4})_(\w+)\.sql$")

log = logging.getLogger(__name__)


class SchemaMismatch(Exception):
    """The migrated schema's vector dimensions differ from the settings."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    def statement(self, face_dim: int, text_dim: int) -> sql.Composed:
        template = sql.SQL(self.path.read_text())  # a trusted file of ours, not input
        return template.format(face_dim=sql.Literal(face_dim), text_dim=sql.Literal(text_dim))


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_name.sql")
        migrations.append(Migration(match[1], match[2], path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version in {directory}")
    return migrations


def latest_version() -> str:
    return discover()[-1].version


def migrate(url: str, face_dim: int, text_dim: int) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when the schema is current)."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in discover():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.statement(face_dim, text_dim))
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                log.info("applied migration %s_%s", migration.version, migration.name)
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    if not applied_now:
        log.info("schema is current (migration %s)", latest_version())
    return applied_now


# Where each configured dimension lives in the schema.
VECTOR_COLUMNS = {
    "FACE_EMBEDDING_DIM": ("customer_face_embeddings", "embedding"),
    "TEXT_EMBEDDING_DIM": ("customer_memory", "embedding"),
}


def schema_dimensions(url: str) -> dict[str, int]:
    """The dimensions of the vector columns as the catalog has them (pgvector keeps it in atttypmod)."""
    found: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        for setting, (table, column) in VECTOR_COLUMNS.items():
            row = conn.execute(
                "SELECT a.atttypmod FROM pg_attribute a"
                " WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
                (table, column),
            ).fetchone()
            if row is not None:
                found[setting] = row[0]
    return found


def check_dimensions(url: str, face_dim: int, text_dim: int) -> None:
    wanted = {"FACE_EMBEDDING_DIM": face_dim, "TEXT_EMBEDDING_DIM": text_dim}
    actual = schema_dimensions(url)
    problems = [
        f"{setting}={wanted[setting]} but {'.'.join(VECTOR_COLUMNS[setting])} is vector({dim})"
        for setting, dim in actual.items()
        if dim != wanted[setting]
    ]
    if problems:
        raise SchemaMismatch(
            "the database schema does not match the settings: "
            + "; ".join(problems)
            + ". Set the variables to the schema's dimensions, or use a new database."
        )
