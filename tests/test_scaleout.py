"""Several app instances sharing rooms through one Postgres (SIGNALING_BACKEND=postgres): the handshake
across instances (SDP over NOTIFY's 8000-byte limit included), limits and keys held cluster-wide, a killed
instance's peers reported as left, and the listening connection surviving a database restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import psycopg.sql
import pytest
from websockets.exceptions import ConnectionClosed

from frontdesk import embedded
from frontdesk.settings import Settings
from frontdesk.signaling.postgres import PostgresBackend

from conftest import TOKEN, LiveServer, ServerFactory, with_settings
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
        query = psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
        row = await (await conn.execute(query)).fetchone()
        assert row is not None
        return int(row[0])


async def camera_room(viewer_url: str, phone_url: str) -> tuple[Peer, Peer]:
    """A viewer that opened a room on one instance, and the phone that joined it on another."""
    first = await viewer(viewer_url)
    phone = await streamer(phone_url, first.room, first.joined["key"])
    assert (await first.expect("peer-joined"))["peer"] == {"peer_id": phone.id, "role": "streamer"}
    # `joined` goes out before the phone's socket is attached (the last step of a join); a socket's frames
    # are handled one at a time, so a pong means the join is complete.
    await phone.is_alive()
    return first, phone


async def sockets_open(live: LiveServer, count: int) -> None:
    """Wait until this instance counts this many open sockets (a dropped one is noticed by then)."""
    for _ in range(250):
        if len(live.app.state.signaling.members) == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the instance never got down to {count} open sockets")


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


async def test_a_peer_resumes_on_another_instance_and_gets_what_waited_for_it(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, a.ws_url)
        phone.drop()
        await sockets_open(a, 1)  # the server has seen the phone's socket go: its peer is away
        await first.send(type="answer", to=phone.id, sdp="sent while the phone was away")
        await first.send(type="candidate", to=phone.id, candidate=None)
        back = await streamer(b.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
        assert back.joined["resumed"] is True and back.id == phone.id
        assert back.joined["peers"] == [{"peer_id": first.id, "role": "viewer"}]
        waited = await back.expect("answer")
        assert waited == {"type": "answer", "from": first.id, "sdp": "sent while the phone was away"}
        assert await back.expect("candidate") == {"type": "candidate", "from": first.id, "candidate": None}
        await first.send(type="answer", to=phone.id, sdp="now across instances")
        assert (await back.expect("answer"))["sdp"] == "now across instances"
        await back.send(type="offer", to=first.id, sdp="from the other instance")
        assert await first.recv() == {"type": "offer", "from": phone.id, "sdp": "from the other instance"}
        await first.is_alive()  # no peer-left, no peer-joined


async def test_resuming_on_another_instance_replaces_the_stale_socket_there(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, a.ws_url)
        back = await streamer(b.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
        assert back.id == phone.id and back.joined["resumed"] is True
        assert [f["code"] for f in await phone.expect_close(4410)] == ["replaced"]
        await first.send(type="answer", to=phone.id, sdp="to the new socket")
        assert (await back.expect("answer"))["sdp"] == "to the new socket"
        await first.is_alive()


# ---- limits and keys hold across instances --------------------------------------------------------------


async def test_room_limits_and_keys_are_enforced_across_instances(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, with_settings(cluster_settings, max_viewers_per_room=2), 3) as (a, b, c):
        first, phone = await camera_room(a.ws_url, b.ws_url)
        second = await viewer(c.ws_url, room=first.room)
        for peer in (first, phone):
            assert (await peer.expect("peer-joined"))["peer"]["peer_id"] == second.id

        late = await open_peer(b.ws_url)
        await late.send(type="join", role="viewer", token=TOKEN, room=first.room)
        assert [f["code"] for f in await late.expect_close(4409)] == ["room_full"]
        second_phone = await open_peer(c.ws_url)
        await second_phone.send(type="join", role="streamer", room=first.room, key=first.joined["key"])
        assert [f["code"] for f in await second_phone.expect_close(4409)] == ["streamer_present"]
        intruder = await open_peer(c.ws_url)
        await intruder.send(type="join", role="streamer", room=first.room, key="A" * 22)
        assert [f["code"] for f in await intruder.expect_close(4401)] == ["unauthorized"]
        stranger = await open_peer(b.ws_url)
        await stranger.send(type="join", role="viewer", token="not-the-token", room=first.room)
        assert [f["code"] for f in await stranger.expect_close(4401)] == ["unauthorized"]
        lost = await open_peer(c.ws_url)
        await lost.send(type="join", role="streamer", room="no-such-room", key="k" * 22)
        assert [f["code"] for f in await lost.expect_close(4404)] == ["room_not_found"]
        for peer in (first, second, phone):
            await peer.is_alive()  # none of it reached the room

        await second.send(type="leave")
        await second.expect_close(1000)
        for peer in (first, phone):
            assert await peer.expect("peer-left") == {"type": "peer-left", "peer_id": second.id, "reason": "left"}
        third = await viewer(b.ws_url, room=first.room)  # the freed place is free on every instance
        assert third.joined["key"] == first.joined["key"]


async def test_max_rooms_holds_across_instances_even_when_they_create_at_once(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, with_settings(cluster_settings, max_rooms=3), 3) as servers:

        async def try_create(live: LiveServer) -> tuple[Peer, int | None]:
            peer = await open_peer(live.ws_url)
            await peer.send(type="join", role="viewer", token=TOKEN, room=None)
            frame = await peer.recv()
            if frame["type"] == "joined":
                return peer, None
            await peer.expect_close(4503)
            return peer, 4503

        results = await asyncio.gather(*(try_create(servers[i % 3]) for i in range(7)))
        assert sorted(code or 0 for _, code in results) == [0, 0, 0, 4503, 4503, 4503, 4503]
        async with servers[0].client() as http:
            stats = (await http.get("/api/signaling/stats")).json()
        assert stats["rooms"] == 3 and stats["peers"] == 3  # the whole cluster's, not this instance's


# ---- instances that die, lose the database, or are taken for dead -----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """An app instance in its own process (`python -m frontdesk serve`), as a deployment runs them."""

    process: asyncio.subprocess.Process
    base_url: str
    ws_url: str
    log: Path

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


@asynccontextmanager
async def serve_process(settings: Settings, directory: Path) -> AsyncIterator[Process]:
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": settings.database_url or "", "API_TOKENS": TOKEN, "TLS": "off",
        "HOST": "127.0.0.1", "PORT": str(port), "DATA_DIR": str(directory / "data"), "LOG_LEVEL": "warning",
        "SIGNALING_BACKEND": "postgres", "PING_TIMEOUT_SECONDS": str(settings.ping_timeout_seconds),
        "RESUME_GRACE_SECONDS": str(settings.resume_grace_seconds),
    }
    log = directory / f"instance-{port}.log"
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "frontdesk", "serve", env=env, cwd=directory, stdout=out, stderr=subprocess.STDOUT
        )
    process = Process(child, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", log)
    try:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=2) as http:
            for _ in range(300):
                if child.returncode is not None:
                    raise AssertionError(f"the instance exited with {child.returncode}:\n{log.read_text()}")
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the instance never got ready:\n{log.read_text()}")
        yield process
    finally:
        if child.returncode is None:
            child.terminate()
            try:
                async with asyncio.timeout(15):
                    await child.wait()
            except TimeoutError:
                child.kill()
                await child.wait()


async def keep_pinging(peer: Peer, every: float) -> None:
    while True:
        await peer.send(type="ping")
        await asyncio.sleep(every)


async def next_event(peer: Peer, within: float = 5.0) -> dict[str, Any]:
    """The next frame that is not a pong."""
    async with asyncio.timeout(within):
        while (frame := await peer.recv(within))["type"] == "pong":
            pass
    return frame


async def sql(url: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(statement, params or None)  # type: ignore[arg-type]
        return await cur.fetchall() if cur.description else []


async def test_a_killed_instance_gets_its_peers_reported_left_on_the_others(
    cluster_settings: Settings, start_server: ServerFactory, tmp_path: Path
) -> None:
    quick = with_settings(cluster_settings, ping_timeout_seconds=1.5, resume_grace_seconds=0.5)
    async with start_server(quick) as survivor, serve_process(quick, tmp_path) as doomed:
        first, phone = await camera_room(survivor.ws_url, doomed.ws_url)
        other, camera = await camera_room(survivor.ws_url, doomed.ws_url)
        pingers = [asyncio.create_task(keep_pinging(peer, 0.3)) for peer in (first, other)]
        try:
            await doomed.kill()  # SIGKILL: no goodbye, no deregistering, sockets cut
            killed_at = time.monotonic()
            # One camera reconnects to the surviving instance at once (as a phone whose server vanished
            # does) and keeps its identity: its viewer hears nothing.
            resume = camera.joined["resume_token"]
            back = await streamer(survivor.ws_url, other.room, other.joined["key"], resume=resume)
            assert back.id == camera.id and back.joined["resumed"] is True
            pingers.append(asyncio.create_task(keep_pinging(back, 0.3)))
            # The other never comes back: once the dead instance's heartbeat is older than the liveness
            # timeout, its peer is away, and past the resume grace it is reported as left.
            assert await next_event(first, within=15) == {"type": "peer-left", "peer_id": phone.id, "reason": "closed"}
            assert time.monotonic() - killed_at >= 1.0  # not before the instance could be called dead
            await other.send(type="answer", to=camera.id, sdp="after the move")
            assert await next_event(back) == {"type": "answer", "from": other.id, "sdp": "after the move"}
            fresh = await streamer(survivor.ws_url, first.room, first.joined["key"])  # the slot is free
            assert await next_event(first) == {"type": "peer-joined", "peer": {"peer_id": fresh.id, "role": "streamer"}}
        finally:
            for task in pingers:
                task.cancel()
        async with survivor.client() as http:
            stats = (await http.get("/api/signaling/stats")).json()
        assert stats["rooms"] == 2 and stats["peers"] == 4  # first+fresh, other+camera: the dead phone is gone


async def test_frames_for_an_instance_that_is_not_listening_wait_until_it_listens_again(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    url = cluster_settings.database_url or ""
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, b.ws_url)
        # A's listening session as recorded no longer exists, as after a database restart before A is back.
        await sql(url, "UPDATE signaling_instances SET listener_started = listener_started - interval '1 day'"
                       " WHERE instance_id = %s", backend(a).instance_id)
        offer = sdp(10_000, "while away")
        notified = backend(b).counters.notified
        await phone.send(type="candidate", to=first.id, candidate=None)
        await phone.send(type="offer", to=first.id, sdp=offer)
        await phone.send(type="answer", to=first.id, sdp="small")
        await phone.is_alive()  # the three sends were done
        assert backend(b).counters.stored == 3 and backend(b).counters.notified == notified
        await first.is_alive()  # nothing arrived: nobody would have heard a NOTIFY
        # A's listening connection ends; it reconnects by itself and takes what waited, in order.
        await sql(url, "SELECT pg_terminate_backend(listener_pid) FROM signaling_instances WHERE instance_id = %s",
                  backend(a).instance_id)
        assert await first.recv() == {"type": "candidate", "from": phone.id, "candidate": None}
        assert await first.recv() == {"type": "offer", "from": phone.id, "sdp": offer}
        assert await first.recv() == {"type": "answer", "from": phone.id, "sdp": "small"}
        assert backend(a).listener.connections == 2
        await phone.send(type="answer", to=first.id, sdp="notified again")
        assert (await first.recv())["sdp"] == "notified again"
        assert await count_rows(url, "signaling_frames") == 0


async def test_the_listening_connection_recovers_after_the_database_restarts(
    settings: Settings, start_server: ServerFactory, own_pg: embedded.EmbeddedPostgres
) -> None:
    cluster = with_settings(settings, database_url=own_pg.url(), **QUICK)
    async with instances(start_server, cluster, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, b.ws_url)
        near = await viewer(b.ws_url, room=first.room)  # on the phone's instance
        for peer in (first, phone):
            await peer.expect("peer-joined")
        await phone.send(type="offer", to=near.id, sdp="before")
        assert (await near.expect("offer"))["sdp"] == "before"
        await asyncio.to_thread(own_pg.pause)
        # While the database is down, two sockets on one instance still relay (nothing to look up).
        await phone.send(type="offer", to=near.id, sdp="during the outage")
        assert (await near.expect("offer"))["sdp"] == "during the outage"
        await near.send(type="answer", to=phone.id, sdp="back, during the outage")
        assert (await phone.expect("answer"))["sdp"] == "back, during the outage"
        await asyncio.to_thread(own_pg.resume)
        # Straight after the restart: the phone's frames either wait for A to listen again or are
        # notified once it does; either way they arrive, in order, on the same sockets.
        for i in range(5):
            await phone.send(type="offer", to=first.id, sdp=f"after the restart {i}")
        for i in range(5):
            arrived = await first.recv(timeout=30)
            assert arrived == {"type": "offer", "from": phone.id, "sdp": f"after the restart {i}"}
        for live in (a, b):
            for _ in range(300):
                if backend(live).listening and backend(live).listener.connections >= 2:
                    break
                await asyncio.sleep(0.05)
            assert backend(live).listener.connections >= 2, "the listener did not reconnect"
        second = await viewer(b.ws_url, room=first.room)
        for peer in (first, phone, near):
            assert (await peer.expect("peer-joined"))["peer"]["peer_id"] == second.id
        big = sdp(15_000, "second")
        await phone.send(type="offer", to=second.id, sdp=big)
        assert (await second.expect("offer"))["sdp"] == big
        await second.send(type="answer", to=phone.id, sdp="answer across")
        assert (await phone.expect("answer"))["sdp"] == "answer across"
        for peer in (first, phone, second, near):
            await peer.is_alive()


async def relay_outcome(sender: Peer, receiver: Peer, within: float) -> tuple[str, dict[str, Any]]:
    """What became of a frame just sent: ("relayed", the receiver's next frame) or ("refused", the sender's
    error), whichever comes first. Both peers are read at once: silence from the sender proves nothing (the
    server may still be waiting for the database), and a socket left unread long enough is closed by its own
    client library (its keepalive pong stuck behind unread pongs)."""
    reads = {asyncio.create_task(next_event(peer, within)): outcome
             for peer, outcome in ((receiver, "relayed"), (sender, "refused"))}
    try:
        done, _ = await asyncio.wait(reads, return_when=asyncio.FIRST_COMPLETED)
        task = done.pop()
        return reads[task], task.result()
    finally:
        for task in reads:
            task.cancel()
        await asyncio.gather(*reads, return_exceptions=True)


async def relay_when_back(sender: Peer, receiver: Peer, kind: str, sdp: str) -> None:
    """Send until relayed, as a client does: right after a database outage the signaling pool reconnects
    with backoff, so the first tries may be refused as `unavailable`. The receiver gets nothing else first."""
    for attempt in range(60):
        await sender.send(type=kind, to=receiver.id, sdp=f"{sdp} {attempt}")
        outcome, frame = await relay_outcome(sender, receiver, within=30)
        if outcome == "relayed":
            assert frame == {"type": kind, "from": sender.id, "sdp": f"{sdp} {attempt}"}
            return
        assert frame["code"] == "unavailable", frame
        await asyncio.sleep(0.5)
    raise AssertionError("relaying never came back")


async def rejoin_when_back(ws_url: str, room: str, key: str, resume: str) -> Peer:
    """Reconnect as the browser client does after 1013: again and again (with backoff; short here), resuming."""
    for _ in range(60):
        peer = await open_peer(ws_url)
        await peer.send(type="join", role="streamer", room=room, key=key, resume=resume)
        await peer.send(type="ping")  # answered once the join is complete, attach included
        frames = []
        try:
            while (frame := await peer.recv(30))["type"] != "pong":
                frames.append(frame)
        except ConnectionClosed:
            assert peer.ws.close_code == 1013, (peer.ws.close_code, frames)
            assert [f["code"] for f in frames if f["type"] == "error"] == ["unavailable"], frames
            await asyncio.sleep(0.5)
            continue
        assert [f["type"] for f in frames] == ["joined"], frames
        peer.joined = frames[0]
        return peer
    raise AssertionError("joining never came back")


async def test_during_a_database_outage_a_relay_across_instances_is_refused_and_a_join_told_to_come_back(
    settings: Settings, start_server: ServerFactory, own_pg: embedded.EmbeddedPostgres
) -> None:
    cluster = with_settings(settings, database_url=own_pg.url(), **QUICK)
    async with instances(start_server, cluster, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, b.ws_url)
        pingers = [asyncio.create_task(keep_pinging(peer, 1.0)) for peer in (first, phone)]
        try:
            await asyncio.to_thread(own_pg.pause)
            # The frame cannot cross to A without the database: the sender hears so, keeps its socket.
            await phone.send(type="offer", to=first.id, sdp="across, during the outage")
            outcome, refused = await relay_outcome(phone, first, within=15)
            assert outcome == "refused" and refused["code"] == "unavailable" and "retry" in refused["message"]
            # A join needs the room state: the socket is closed with 1013, which clients retry later.
            late = await open_peer(a.ws_url)
            await late.send(type="join", role="viewer", token=TOKEN, room=first.room, resume=None)
            frames = await late.expect_close(1013, timeout=30)
            assert [f["code"] for f in frames if f["type"] == "error"] == ["unavailable"]
            await asyncio.to_thread(own_pg.resume)
            # Back: the same sockets relay across again, both ways; nobody was reported as left.
            await relay_when_back(phone, first, "offer", "across, after")
            await relay_when_back(first, phone, "answer", "back across, after")
        finally:
            for task in pingers:
                task.cancel()
        for peer in (first, phone):
            await peer.is_alive()


async def test_a_join_cut_off_by_an_outage_before_its_socket_is_attached_is_closed_and_resumed(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    url = cluster_settings.database_url or ""
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first = await viewer(a.ws_url)
        await first.is_alive()  # its own join is complete, attach included
        pinger = asyncio.create_task(keep_pinging(first, 1.0))
        # A join's last step attaches its socket and takes the frames that waited for it: held up behind this
        # lock, it is under way (its record is saved, `joined` is out) when its database connection is cut.
        # Cutting that one connection, rather than stopping the server, makes the timing deterministic.
        holder = await psycopg.AsyncConnection.connect(url)
        try:
            await holder.execute("LOCK TABLE signaling_frames IN SHARE MODE")
            phone = await streamer(b.ws_url, first.room, first.joined["key"])
            joined = await next_event(first)
            assert joined == {"type": "peer-joined", "peer": {"peer_id": phone.id, "role": "streamer"}}
            for _ in range(250):
                waiting = await sql(url, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND query LIKE 'DELETE FROM signaling_frames%%'")
                if waiting:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the phone's attach never got to the frames")
            await sql(url, "SELECT pg_terminate_backend(%s)", waiting[0][0])
            # Its socket could not be attached: no other instance could reach it, so it is not kept open
            # (half joined) but closed with 1013, as a join that failed.
            frames = await phone.expect_close(1013, timeout=30)
            assert [f["code"] for f in frames if f["type"] == "error"] == ["unavailable"]
        finally:
            await holder.close()
        # Its client reconnects and resumes its identity: the viewer hears neither peer-left nor peer-joined,
        # and the two relay across instances again.
        back = await rejoin_when_back(b.ws_url, first.room, first.joined["key"], phone.joined["resume_token"])
        assert back.id == phone.id and back.joined["resumed"] is True
        await relay_when_back(back, first, "offer", "after the resume")
        await relay_when_back(first, back, "answer", "answer after the resume")
        pinger.cancel()
        for peer in (first, back):
            await peer.is_alive()


async def test_an_instance_taken_for_dead_asks_its_sockets_to_reconnect_and_they_resume_elsewhere(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    url = cluster_settings.database_url or ""
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, a.ws_url)
        # A was cut off from the database for longer than the liveness timeout (as the others see it) ...
        await sql(url, "UPDATE signaling_instances SET heartbeat_at = now() - interval '1 hour' WHERE instance_id = %s",
                  backend(a).instance_id)
        assert await backend(b).reap() == 2  # ... so B marks its peers away.
        # A notices on its own (its janitor reconciles every PING_TIMEOUT_SECONDS/3); here it is asked now. A
        # mismatch is acted on when seen twice, so a notification on its way cannot cause it.
        await backend(a).reconcile()
        await first.is_alive()
        await backend(a).reconcile()
        await first.expect_close(1001)
        await phone.expect_close(1001)
        again = await viewer(b.ws_url, room=first.room, resume=first.joined["resume_token"])
        back = await streamer(b.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
        assert (again.id, back.id) == (first.id, phone.id)
        assert again.joined["resumed"] and back.joined["resumed"]
        await back.send(type="offer", to=again.id, sdp="resumed elsewhere")
        assert await again.recv() == {"type": "offer", "from": phone.id, "sdp": "resumed elsewhere"}


# ---- operations -------------------------------------------------------------------------------------------


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


async def scrape_when(live: LiveServer, name: str, value: float) -> str:
    """/metrics once `name` shows `value` (rooms and peers are refreshed every second)."""
    async with live.client() as http:
        for _ in range(100):
            text = (await http.get("/metrics")).text
            if metric(text, name) == value:
                return text
            await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never became {value}:\n{text}")


async def test_metrics_show_rooms_peers_relays_errors_and_the_cross_instance_lag(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    async with instances(start_server, cluster_settings, 2) as (a, b):
        first, phone = await camera_room(a.ws_url, b.ws_url)
        await phone.send(type="offer", to=first.id, sdp=sdp(9_000, "m"))
        await phone.send(type="candidate", to=first.id, candidate=None)
        await first.expect("offer")
        await first.expect("candidate")
        await phone.send(type="warp")
        await phone.expect_error("unknown_type")

        text = await scrape_when(a, "frontdesk_signaling_peers", 2.0)
        assert metric(text, "frontdesk_signaling_rooms") == 1.0  # the whole cluster's
        assert metric(text, "frontdesk_signaling_connections") == 1.0  # this instance's
        assert metric(text, "frontdesk_signaling_listener_up") == 1.0
        assert metric(text, "frontdesk_signaling_relay_lag_seconds_count") == 3.0  # peer-joined, offer, candidate
        assert 0 < metric(text, "frontdesk_signaling_relay_lag_seconds_sum") < 5
        assert 'frontdesk_signaling_cross_instance_frames_total{outcome="received"} 3.0' in text

        text = await scrape_when(b, "frontdesk_signaling_peers", 2.0)
        assert metric(text, "frontdesk_signaling_messages_relayed_total") == 2.0
        assert 'frontdesk_signaling_errors_total{code="unknown_type"} 1.0' in text
        assert 'frontdesk_signaling_cross_instance_frames_total{outcome="large"} 1.0' in text
        assert 'frontdesk_signaling_cross_instance_frames_total{outcome="notified"} 3.0' in text


async def test_a_single_instance_keeps_the_in_process_backend_and_its_metrics(server: LiveServer) -> None:
    assert server.settings.signaling_backend == "memory"
    first = await viewer(server.ws_url)
    text = await scrape_when(server, "frontdesk_signaling_rooms", 1.0)
    assert metric(text, "frontdesk_signaling_peers") == 1.0
    assert "frontdesk_signaling_relay_lag_seconds" not in text  # nothing crosses instances
    await first.close()


async def test_orphans_are_cleaned_up_and_live_rows_kept(
    cluster_settings: Settings, start_server: ServerFactory
) -> None:
    url = cluster_settings.database_url or ""
    async with start_server(cluster_settings) as a:
        first = await viewer(a.ws_url)
        mine = f"{first.room}/{first.id}"
        await sql(url, "INSERT INTO signaling_inboxes (address, room_id, peer_id, opened_at)"
                       " VALUES ('gone/peer', 'gone', 'peer', now() - interval '1 hour')")
        await sql(url, "INSERT INTO signaling_frames (address, frame, created_at) VALUES"
                       " ('gone/peer', 'a', now() - interval '1 hour'), ('nobody/x', 'b', now() - interval '1 hour'),"
                       " (%s, 'c', now() - interval '1 hour')", mine)
        await sql(url, "INSERT INTO signaling_instances (instance_id, heartbeat_at)"
                       " VALUES ('0123456789abcdef', now() - interval '1 hour')")
        await backend(a).cleanup()
        assert await sql(url, "SELECT address FROM signaling_inboxes") == [(mine,)]
        assert await sql(url, "SELECT frame FROM signaling_frames") == [("c",)]  # its inbox lives: kept
        assert await sql(url, "SELECT instance_id FROM signaling_instances") == [(backend(a).instance_id,)]
