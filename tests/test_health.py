"""Liveness and readiness, including a database that goes away and comes back under a running app."""

from __future__ import annotations

import asyncio
import time

import httpx

from frontdesk import embedded
from frontdesk.settings import Settings

from conftest import LiveServer, ServerFactory, with_settings


async def test_healthz_answers_without_a_token(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_current_migration(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


async def poll_ready(http: httpx.AsyncClient, want: int, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = await http.get("/readyz")
        if response.status_code == want or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


async def test_readyz_is_503_while_the_database_is_down_and_recovers_without_a_restart(
    own_pg: embedded.EmbeddedPostgres, settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(settings, database_url=own_pg.url())) as live, live.client(token=None) as http:
        assert (await http.get("/readyz")).status_code == 200
        await asyncio.to_thread(own_pg.pause)
        down = await poll_ready(http, 503, within=30)
        assert down.status_code == 503
        assert down.json()["status"] == "unavailable" and down.json()["reason"]
        await asyncio.to_thread(own_pg.resume)
        up = await poll_ready(http, 200, within=30)
        assert up.status_code == 200, up.text
