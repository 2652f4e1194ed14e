"""The product's named queries (the floor runs exactly these) and the bench's own (bench/sql/)."""

from __future__ import annotations

from pathlib import Path

from frontdesk.queries import load_queries

QUERIES = load_queries()
BENCH = load_queries(Path(__file__).resolve().parent / "sql")
