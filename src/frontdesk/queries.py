"""Named SQL queries, loaded once from `sql/queries/*.sql`.

Each query sits under a `-- name: query_name` header, with an optional one-line comment after it:

    -- name: get_customer
    -- One customer by id.
    SELECT ... WHERE id = %(id)s;

Code runs them by name through `frontdesk.db.Database`; nothing assembles SQL from strings.
"""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str, source: str = "<string>") -> dict[str, str]:
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} defined twice in {source}")
        queries[name] = body.strip()
    return queries


def load_queries(directory: Path = SQL_DIR / "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, sql in parse_queries(path.read_text(), str(path)).items():
            if name in queries:
                raise ValueError(f"query {name!r} defined twice (again in {path.name})")
            queries[name] = sql
    return queries


QUERIES = load_queries()
