"""The /api/signaling websocket room manager (see docs/signaling.md).

`routes()` and `lifespan(app)` are what app.py uses; the manager lives on `app.state.signaling`, so two
apps in one process never share rooms (unless both use SIGNALING_BACKEND=postgres on one database: then
they are two instances of one cluster, as two processes would be).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Route, WebSocketRoute

from frontdesk.http import JSONResponse, json_response
from frontdesk.settings import Settings
from frontdesk.signaling.backend import MemoryBackend, SignalingBackend, Sink
from frontdesk.signaling.endpoint import signaling_socket
from frontdesk.signaling.metrics import SignalingMetrics
from frontdesk.signaling.postgres import PostgresBackend
from frontdesk.signaling.rooms import RoomManager


async def stats(request: Request) -> JSONResponse:
    """Rooms and peers (all instances), sockets, relayed messages and errors (this instance). Token required."""
    manager: RoomManager = request.app.state.signaling
    return json_response(await manager.stats())


def routes() -> list[BaseRoute]:
    return [
        WebSocketRoute("/api/signaling", signaling_socket),
        Route("/api/signaling/stats", stats, methods=["GET"]),
    ]


def make_backend(settings: Settings) -> SignalingBackend:
    """memory: rooms in this process, no round trips (one instance). postgres: rooms shared by every
    instance on the database (several instances behind a load balancer)."""
    if settings.signaling_backend == "postgres":
        return PostgresBackend(settings)
    return MemoryBackend()


def _reconnect(sinks: list[Sink]) -> None:
    """Sockets whose peers other instances stopped routing to: close with 1001, so they resume."""
    for sink in sinks:
        go_away = getattr(sink, "go_away", None)
        if callable(go_away):
            go_away()


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    backend = make_backend(settings)
    if isinstance(backend, PostgresBackend):
        backend.on_orphaned = _reconnect
    manager = RoomManager(settings, backend)
    app.state.signaling = manager
    metrics = SignalingMetrics(app.state.metrics, manager) if hasattr(app.state, "metrics") else None
    async with manager.running():
        refresher = asyncio.create_task(metrics.refresh_forever()) if metrics else None
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
                await asyncio.gather(refresher, return_exceptions=True)
