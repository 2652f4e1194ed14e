"""The /api/signaling websocket room manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
