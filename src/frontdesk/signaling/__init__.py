"""The /api/signaling websocket room manager (see docs/signaling.md).

`routes()` and `lifespan(app)` are what app.py uses; the manager lives on `app.state.signaling`, so two
apps in one process never share rooms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Route, WebSocketRoute

from frontdesk.http import JSONResponse, json_response
from frontdesk.settings import Settings
from frontdesk.signaling.backend import MemoryBackend, SignalingBackend
from frontdesk.signaling.endpoint import signaling_socket
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
    if settings.signaling_backend == "memory":
        return MemoryBackend()
    raise NotImplementedError(
        "SIGNALING_BACKEND=postgres is not available yet (rooms across instances); use SIGNALING_BACKEND=memory"
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    manager = RoomManager(settings, make_backend(settings))
    app.state.signaling = manager
    async with manager.running():
        yield
