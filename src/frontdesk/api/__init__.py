"""The JSON data API (customers, employees, sessions, embeddings, search, consent)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
