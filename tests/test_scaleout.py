"""Several app instances sharing rooms through one Postgres (SIGNALING_BACKEND=postgres): the handshake
across instances (SDP over NOTIFY's 8000-byte limit included), limits and keys held cluster-wide, a killed
instance's peers reported as left, and the listening connection surviving a database restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from conftest import TOKEN, LiveServer, ServerFactory, with_settings
from frontdesk import embedded
from frontdesk.settings import Settings
from frontdesk.signaling.postgres import PostgresBackend
from signaling_client import Peer, open_peer, streamer, viewer

QUICK = {"signaling_backend": "postgres", "ping_timeout_seconds": 30.0, "resume_grace_seconds": 5.0}
NOTIFY_LIMIT = 8000


@pytest.fixture
def cluster_settings(settings: Settings) -> Settings:
    return with_settings(settings, **QUICK)


@asynccontextmanager
async def instances(start_server: ServerFactory, settings: Settings, count: int) -> AsyncIterator[list[LiveServer]]:
    """`count` app instances (each its own app, manager, backend and listener) on one database."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(start_server(settings)) for _ in range(count)]


def sdp(size: int, tag: str) -> str:
    """A plausible SDP of about `size` bytes (many candidates and codecs make real offers this big)."""
    head = f"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 {tag}\r\n"
    lines = []
    i = 0
    while len(head) + sum(map(len, lines)) < size:
        lines.append(f"a=candidate:{i} 1 udp 2122260223 10.0.{i % 250}.{i % 200} {50000 + i} typ host generation 0\r\n")
        i += 1
    return head + "".join(lines)


def backend(live: LiveServer) -> PostgresBackend:
    found = live.app.state.signaling.backend
    assert isinstance(found, PostgresBackend)
    return found


async def count_rows(url: str, table: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone()  # noqa: S608 - test constant
        assert row is not None
        return int(row[0])


# ---- the handshake across instances ---------------------------------------------------------------------


async def test_a_streamer_on_one_instance_and_viewers_on_two_others_complete_the_handshake(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, cluster_settings, 3) as (a, b, c):
        first = await viewer(a.ws_url)
        phone = await streamer(b.ws_url, first.room, first.joined["key"])
        assert phone.joined["peers"] == [{"peer_id": first.id, "role": "viewer"}]
        assert (await first.expect("peer-joined"))["peer"] == {"peer_id": phone.id, "role": "streamer"}
        second = await viewer(c.ws_url, room=first.room)
        assert {p["peer_id"] for p in second.joined["peers"]} == {first.id, phone.id}
        assert second.joined["key"] == first.joined["key"]
        for peer in (first, phone):
            assert (await peer.expect("peer-joined"))["peer"] == {"peer_id": second.id, "role": "viewer"}

        candidates = [{"candidate": f"candidate:{i} 1 udp 2122260223 10.0.0.{i} 5000{i} typ host",
                       "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"} for i in range(6)]
        offers = {first.id: sdp(20_000, "a"), second.id: sdp(9_000, "b")}
        assert all(len(offer) > NOTIFY_LIMIT for offer in offers.values())
        for target in (first, second):
            # A small candidate before the large offer and several right after: order must hold across the
            # two paths (inline NOTIFY and stored-then-notified-by-id).
            await phone.send(type="candidate", to=target.id, candidate=candidates[0])
            await phone.send(type="offer", to=target.id, sdp=offers[target.id])
            for candidate in candidates[1:]:
                await phone.send(type="candidate", to=target.id, candidate=candidate)
            await phone.send(type="candidate", to=target.id, candidate=None)
        for target in (first, second):
            assert await target.recv() == {"type": "candidate", "from": phone.id, "candidate": candidates[0]}
            assert await target.recv() == {"type": "offer", "from": phone.id, "sdp": offers[target.id]}
            for candidate in candidates[1:]:
                assert await target.recv() == {"type": "candidate", "from": phone.id, "candidate": candidate}
            assert await target.recv() == {"type": "candidate", "from": phone.id, "candidate": None}
            answer = sdp(12_000, f"answer-{target.id}")
            await target.send(type="answer", to=phone.id, sdp=answer)
            assert await phone.recv() == {"type": "answer", "from": target.id, "sdp": answer}
        for peer in (first, second, phone):
            await peer.is_alive()  # nothing else arrived

        assert backend(b).counters.large == 2 and backend(a).counters.large == 1
        # peer-joined to the first viewer, then per viewer: a candidate, the offer, 5 candidates, the end
        assert backend(b).counters.notified == 1 + 2 * (len(candidates) + 2)
        # Large frames are deleted once delivered: nothing is left in the table.
        assert await count_rows(cluster_settings.database_url or "", "signaling_frames") == 0


async def test_frames_around_the_notify_limit_arrive_whole_and_in_order(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first = await viewer(a.ws_url)
        phone = await streamer(b.ws_url, first.room, first.joined["key"])
        await first.expect("peer-joined")
        sizes = list(range(NOTIFY_LIMIT - 120, NOTIFY_LIMIT + 20, 7))
        for size in sizes:
            await phone.send(type="offer", to=first.id, sdp="x" * size)
        for size in sizes:
            frame = await first.expect("offer")
            assert len(frame["sdp"]) == size
        counters = backend(b).counters
        assert 0 < counters.large < len(sizes)  # both paths were taken


async def test_peers_on_one_instance_relay_without_a_round_trip(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, cluster_settings, 2) as (a, _):
        first = await viewer(a.ws_url)
        phone = await streamer(a.ws_url, first.room, first.joined["key"])
        await first.expect("peer-joined")
        before = dict(backend(a).counters.__dict__)
        for i in range(5):
            await phone.send(type="offer", to=first.id, sdp=f"local {i}")
        for i in range(5):
            assert (await first.expect("offer"))["sdp"] == f"local {i}"
        assert backend(a).counters.__dict__ == before  # neither notified nor stored: handed over here
