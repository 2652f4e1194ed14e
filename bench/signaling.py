"""Signaling: N rooms of one streamer and one viewer, relaying ICE-candidate-sized and SDP-sized messages,
driven by one load generator against frontdesk and against peerjs-server (npm `peer`) with the same
message sizes. Per size and message kind: relay latency p50/p99 at a steady offered load (the timestamp
travels inside the payload, sender and receiver share a clock), the throughput of a saturated closed loop
(`window` messages in flight per room), and server memory per connection (RSS before/after connecting).

Targets are pluggable: `cross-instance` (streamer on one app process, viewer on another, rooms shared
through Postgres; issue 8) reports "not available" until SIGNALING_BACKEND=postgres exists.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import services
from bench.stats import percentile

CONNECT_PARALLEL = 50
KEEPALIVE_SECONDS = 5.0
_STAMP = re.compile(rb"(?:candidate:|o=- )(\d{6,})")

# A host candidate as Chrome writes it; the foundation carries the send time.
CANDIDATE = "candidate:{t} 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 ufrag Wz3q network-id 1 network-cost 10"
SDP_BYTES = 4000  # a Chrome offer with one video m-line and its codecs is 3-6 KB


def sdp_template() -> str:
    lines = [
        "v=0",
        "o=- {t} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS stream",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Wz3q",
        "a=ice-pwd:" + "p" * 24,
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=sendonly",
    ]
    n = 0
    while sum(len(x) + 2 for x in lines) < SDP_BYTES:
        lines.append(f"a=rtpmap:{100 + n} VP8/90000\r\na=rtcp-fb:{100 + n} nack pli\r\na=fmtp:{100 + n} apt=96")
        n += 1
    return "\r\n".join(lines) + "\r\n"


SDP = sdp_template()


@dataclass(frozen=True)
class SignalingSize:
    rooms: tuple[int, ...]
    seconds: float  # per phase
    rate_per_room: float  # messages/s per room in the latency phase...
    max_rate: float  # ...but at most this many in all
    window: int  # messages in flight per room in the throughput phase


class Protocol:
    """How one server's clients pair up and what a relayed message looks like."""

    name = ""
    keepalive = ""

    async def pair(self, streamer_url: str, viewer_url: str, index: int) -> tuple[ClientConnection, ClientConnection, str]:
        raise NotImplementedError

    def frame(self, kind: str, to: str) -> tuple[str, str]:
        """(before, after) the timestamp."""
        raise NotImplementedError


async def _open(url: str) -> ClientConnection:
    # No compression (peerjs-server has none by default), no library pings: the app-level keepalive runs.
    return await connect(url, compression=None, ping_interval=None, max_size=2**20, open_timeout=30, close_timeout=2)


async def _expect(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame.get("type") == kind:
            return frame  # type: ignore[no-any-return]
        if frame.get("type") in ("error", "ERROR"):
            raise RuntimeError(f"server error while waiting for {kind}: {frame}")


def _split(text: str) -> tuple[str, str]:
    before, after = text.split("{t}")
    return before, after


class Frontdesk(Protocol):
    name = "frontdesk"
    keepalive = '{"type":"ping"}'

    async def pair(self, streamer_url: str, viewer_url: str, index: int) -> tuple[ClientConnection, ClientConnection, str]:
        viewer = await _open(f"{viewer_url}/api/signaling")
        await viewer.send(json.dumps({"type": "join", "role": "viewer", "token": services.TOKEN, "room": None}))
        joined = await _expect(viewer, "joined")
        streamer = await _open(f"{streamer_url}/api/signaling")
        await streamer.send(json.dumps({"type": "join", "role": "streamer", "room": joined["room"], "key": joined["key"]}))
        await _expect(streamer, "joined")
        await _expect(viewer, "peer-joined")
        return streamer, viewer, str(joined["peer_id"])

    def frame(self, kind: str, to: str) -> tuple[str, str]:
        if kind == "candidate":
            body = {
                "type": "candidate",
                "to": to,
                "candidate": {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "Wz3q"},
            }
        else:
            body = {"type": "offer", "to": to, "sdp": SDP}
        return _split(json.dumps(body, separators=(",", ":")))


class PeerJs(Protocol):
    """peerjs-server's protocol (peer 1.0.2): ws://host/peerjs?key=&id=&token=, `OPEN` on connect,
    relayed frames {type, dst, payload} (the server adds `src`), `HEARTBEAT` to stay alive. The payloads
    are what the PeerJS client library sends for a media connection."""

    name = "peerjs-server"
    keepalive = '{"type":"HEARTBEAT"}'

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(4)

    async def pair(self, streamer_url: str, viewer_url: str, index: int) -> tuple[ClientConnection, ClientConnection, str]:
        ids = f"s{index}-{self.nonce}", f"v{index}-{self.nonce}"
        sockets = []
        for base, peer_id in zip((streamer_url, viewer_url), ids, strict=False):
            ws = await _open(f"{base}/peerjs?key=peerjs&id={peer_id}&token={secrets.token_hex(8)}")
            await _expect(ws, "OPEN")
            sockets.append(ws)
        return sockets[0], sockets[1], ids[1]

    def frame(self, kind: str, to: str) -> tuple[str, str]:
        if kind == "candidate":
            payload = {
                "candidate": {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "Wz3q"},
                "type": "media",
                "connectionId": "mc_bench",
            }
            body = {"type": "CANDIDATE", "dst": to, "payload": payload}
        else:
            payload = {
                "sdp": {"type": "offer", "sdp": SDP},
                "type": "media",
                "connectionId": "mc_bench",
                "metadata": None,
            }
            body = {"type": "OFFER", "dst": to, "payload": payload}
        return _split(json.dumps(body, separators=(",", ":")))


@dataclass
class Room:
    streamer: ClientConnection
    viewer: ClientConnection
    to: str
    credit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    received: int = 0
    sent: int = 0


async def _read(ws: ClientConnection, room: Room | None, phase: Callable[[], Phase | None]) -> None:
    """Every frame a socket gets; stamped ones count for the running phase and give its room a credit."""
    try:
        async for frame in ws:
            raw = frame.encode() if isinstance(frame, str) else frame
            match = _STAMP.search(raw)
            if match is None:
                continue
            now = time.perf_counter_ns()
            current = phase()
            if current is not None:
                current.latencies_ms.append((now - int(match[1])) / 1e6)
                current.received += 1
            if room is not None:
                room.credit.release()
    except ConnectionClosed:
        pass


async def _keepalive(rooms: list[Room], frame: str, stop: asyncio.Event) -> None:
    """Each socket sends `frame` every KEEPALIVE_SECONDS, spread evenly over that interval (as real clients'
    timers are), not in one burst that the relayed messages would queue behind."""
    sockets = [ws for room in rooms for ws in (room.streamer, room.viewer)]
    ticks = 50
    per_tick = -(-len(sockets) // ticks)
    position = 0
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), KEEPALIVE_SECONDS / ticks)
        for ws in sockets[position : position + per_tick]:
            with suppress(ConnectionClosed):
                await ws.send(frame)
        position = (position + per_tick) % max(1, len(sockets))


async def _steady(rooms: list[Room], parts: tuple[str, str], rate: float, seconds: float, phase: Phase) -> None:
    """Open loop: each room sends `rate` messages/s on its own schedule for `seconds`."""
    before, after = parts
    end = time.perf_counter() + seconds

    async def room_loop(room: Room) -> None:
        interval = 1.0 / rate
        due = time.perf_counter() + random.random() * interval
        while due < end:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await room.streamer.send(before + str(time.perf_counter_ns()) + after)
            phase.sent += 1
            due += interval

    await asyncio.gather(*(room_loop(room) for room in rooms))


def _summary(phase: Phase, seconds: float) -> dict[str, Any]:
    return {
        "sent": phase.sent,
        "received": phase.received,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(phase.received / seconds, 1) if seconds else None,
        "p50_ms": round(percentile(phase.latencies_ms, 50), 3),
        "p99_ms": round(percentile(phase.latencies_ms, 99), 3),
    }


async def drive(
    protocol: Protocol,
    streamer_url: str,
    viewer_url: str,
    servers: list[services.Process],
    rooms_n: int,
    size: SignalingSize,
) -> dict[str, Any]:
    def rss() -> int:
        return sum(server.rss() for server in servers)

    def cpu() -> float:
        return sum(server.cpu_seconds() for server in servers)

    settle = min(0.5, size.seconds)  # lets the server idle before an RSS reading, and late frames land
    await asyncio.sleep(settle)
    rss_before = rss()
    current: list[Phase | None] = [None]
    limit = asyncio.Semaphore(CONNECT_PARALLEL)

    async def make(index: int) -> Room:
        async with limit:
            streamer, viewer, to = await protocol.pair(streamer_url, viewer_url, index)
            return Room(streamer, viewer, to)

    started = time.perf_counter()
    rooms = list(await asyncio.gather(*(make(i) for i in range(rooms_n))))
    connect_seconds = time.perf_counter() - started
    readers = [asyncio.create_task(_read(r.viewer, r, lambda: current[0])) for r in rooms]
    readers += [asyncio.create_task(_read(r.streamer, None, lambda: None)) for r in rooms]
    stop = asyncio.Event()
    keepalive = asyncio.create_task(_keepalive(rooms, protocol.keepalive, stop))
    await asyncio.sleep(settle)
    rss_connected = rss()
    result: dict[str, Any] = {
        "rooms": rooms_n,
        "connections": 2 * rooms_n,
        "connect_seconds": round(connect_seconds, 2),
    }
    try:
        for kind in ("candidate", "sdp"):
            parts = protocol.frame(kind, "{to}")
            rate = min(size.rate_per_room, size.max_rate / rooms_n)
            frames = [(p[0].replace("{to}", r.to), p[1].replace("{to}", r.to)) for r in rooms for p in [parts]]
            result[f"{kind}_frame_bytes"] = len((frames[0][0] + str(time.perf_counter_ns()) + frames[0][1]).encode())
            for mode in ("steady", "saturated"):
                phase = Phase()
                current[0] = phase
                cpu_before = cpu()
                if mode == "steady":
                    await asyncio.gather(
                        *(_steady([r], f, rate, size.seconds, phase) for r, f in zip(rooms, frames, strict=False))
                    )
                    seconds = size.seconds
                    await asyncio.sleep(settle)  # the last ones arrive
                else:
                    seconds = await _saturate_all(rooms, frames, size.window, size.seconds, phase)
                current[0] = None
                used = cpu() - cpu_before
                result[f"{kind}_{mode}"] = {
                    **_summary(phase, seconds),
                    "server_cpu_share": round(used / seconds, 2),
                    "server_cpu_us_per_msg": round(1e6 * used / max(1, phase.received), 1),
                    **({"offered_per_s": round(rate * rooms_n, 1)} if mode == "steady" else {}),
                }
                await asyncio.sleep(settle)
        result["rss_before_mb"] = round(rss_before / 2**20, 1)
        result["rss_connected_mb"] = round(rss_connected / 2**20, 1)
        result["rss_after_traffic_mb"] = round(rss() / 2**20, 1)
        result["kib_per_connection"] = round((rss_connected - rss_before) / 1024 / (2 * rooms_n), 1)
    finally:
        stop.set()
        await keepalive
        await asyncio.gather(*(ws.close() for r in rooms for ws in (r.streamer, r.viewer)), return_exceptions=True)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return result


async def _saturate_all(
    rooms: list[Room], frames: list[tuple[str, str]], window: int, seconds: float, phase: Phase
) -> float:
    started = time.perf_counter()
    for room in rooms:
        room.credit = asyncio.Semaphore(window)
    end = started + seconds

    async def room_loop(room: Room, parts: tuple[str, str]) -> None:
        before, after = parts
        while time.perf_counter() < end:
            try:
                await asyncio.wait_for(room.credit.acquire(), max(0.01, end - time.perf_counter()))
            except TimeoutError:
                return
            await room.streamer.send(before + str(time.perf_counter_ns()) + after)
            phase.sent += 1

    await asyncio.gather(*(room_loop(r, f) for r, f in zip(rooms, frames, strict=False)))
    return time.perf_counter() - started


GC_PROBE = Path(__file__).resolve().parent / "gc_probe"


def gc_read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def gc_summary(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any] | None:
    """What bench/gc_probe recorded in the app between two readings: GC passes per generation, their time,
    and the full-GC pauses (each one stops the event loop)."""
    if before is None or after is None:
        return None
    pauses = after["full_pauses_ms"][len(before["full_pauses_ms"]) :]
    return {
        "collections": [a - b for a, b in zip(after["counts"], before["counts"], strict=True)],
        "seconds": [round(a - b, 4) for a, b in zip(after["seconds"], before["seconds"], strict=True)],
        "full_gc_pauses": len(pauses),
        "longest_full_gc_pause_ms": max(pauses) if pauses else 0.0,
    }


def frontdesk_target(pg: services.Postgres, logs: Path, rooms: int) -> Any:
    @asynccontextmanager
    async def target(n: int) -> AsyncIterator[tuple[Protocol, str, str, list[services.Process]]]:
        url = pg.create("bench_signaling")
        probe = logs / f"gc-{n}.json"
        try:
            # The rate limit is raised so the saturated phase measures relaying, not the limiter. The GC probe
            # (bench/gc_probe) records the collector's pauses in the app.
            with services.app(
                url,
                logs,
                name=f"app-signaling-{n}",
                MAX_MESSAGES_PER_SECOND="100000",
                MAX_ROOMS=str(2 * rooms + 10),
                PYTHONPATH=str(GC_PROBE),
                FRONTDESK_GC_PROBE=str(probe),
            ) as app:
                yield Frontdesk(), app.ws_url, app.ws_url, [app.process]
        finally:
            pg.drop("bench_signaling")

    return target


def cross_instance_target(pg: services.Postgres, logs: Path, rooms: int) -> Any:
    """Streamer on instance A, viewer on instance B, rooms shared through Postgres (issue 8)."""

    @asynccontextmanager
    async def target(n: int) -> AsyncIterator[tuple[Protocol, str, str, list[services.Process]]]:
        url = pg.create("bench_signaling")
        env = {"MAX_MESSAGES_PER_SECOND": "100000", "MAX_ROOMS": str(2 * rooms + 10), "SIGNALING_BACKEND": "postgres"}
        try:
            with services.apps(url, logs, [f"app-a-{n}", f"app-b-{n}"], **env) as (a, b):
                yield Frontdesk(), a.ws_url, b.ws_url, [a.process, b.process]
        finally:
            pg.drop("bench_signaling")

    return target


def peerjs_target(logs: Path) -> Any:
    @asynccontextmanager
    async def target(n: int) -> AsyncIterator[tuple[Protocol, str, str, list[services.Process]]]:
        with services.peerjs(logs) as server:
            yield PeerJs(), server.ws_url, server.ws_url, [server.process]

    return target


async def run(
    pg: services.Postgres, size: SignalingSize, logs: Path, progress: Any, cross_instance: bool = True
) -> dict[str, Any]:
    biggest = max(size.rooms)
    targets: dict[str, Any] = {"frontdesk": frontdesk_target(pg, logs, biggest), "peerjs-server": peerjs_target(logs)}
    if cross_instance:
        targets["frontdesk cross-instance"] = cross_instance_target(pg, logs, biggest)
    results: dict[str, Any] = {name: [] for name in targets}
    unavailable: dict[str, str] = {}
    for rooms in size.rooms:
        for name, target in targets.items():  # side by side at each size
            if name in unavailable:
                continue
            try:
                async with target(rooms) as (protocol, streamer_url, viewer_url, servers):
                    probe = logs / f"gc-{rooms}.json"
                    if name == "frontdesk":
                        await asyncio.sleep(0.6)  # the probe writes twice a second
                    before = gc_read(probe)
                    result = await drive(protocol, streamer_url, viewer_url, servers, rooms, size)
                    if name == "frontdesk":
                        await asyncio.sleep(0.6)
                        result["gc"] = gc_summary(before, gc_read(probe))
            except RuntimeError as exc:
                if name == "frontdesk cross-instance":
                    lines = [x for x in str(exc).splitlines() if "Error" in x and "startup failed" not in x]
                    unavailable[name] = (lines[-1] if lines else str(exc).splitlines()[-1])[:200]
                    progress(f"signaling: {name} not available: {unavailable[name]}")
                    continue
                raise
            results[name].append(result)
            progress(
                f"signaling {name} {rooms} rooms: candidate p99 {result['candidate_steady']['p99_ms']:.2f} ms, "
                f"saturated {result['candidate_saturated']['msgs_per_s']:.0f} msg/s, "
                f"{result['kib_per_connection']:.1f} KiB/conn"
            )
    ratios = []
    for ours, theirs in zip(results["frontdesk"], results["peerjs-server"], strict=False):
        row: dict[str, Any] = {"rooms": ours["rooms"]}
        for kind in ("candidate", "sdp"):
            row[f"{kind}_throughput"] = _ratio(
                ours[f"{kind}_saturated"]["msgs_per_s"], theirs[f"{kind}_saturated"]["msgs_per_s"]
            )
            row[f"{kind}_p99_steady"] = _ratio(ours[f"{kind}_steady"]["p99_ms"], theirs[f"{kind}_steady"]["p99_ms"])
            row[f"{kind}_p99_saturated"] = _ratio(ours[f"{kind}_saturated"]["p99_ms"], theirs[f"{kind}_saturated"]["p99_ms"])
        row["cpu_per_msg_saturated"] = _ratio(
            ours["candidate_saturated"]["server_cpu_us_per_msg"], theirs["candidate_saturated"]["server_cpu_us_per_msg"]
        )
        row["memory_per_connection"] = _ratio(ours["kib_per_connection"], theirs["kib_per_connection"])
        ratios.append(row)
    cross = []
    for single, multi in zip(results["frontdesk"], results.get("frontdesk cross-instance", []), strict=False):
        cross.append(
            {
                "rooms": single["rooms"],
                **{
                    f"{kind}_{stat}": _ratio(multi[f"{kind}_steady"][f"{stat}_ms"], single[f"{kind}_steady"][f"{stat}_ms"])
                    for kind in ("candidate", "sdp")
                    for stat in ("p50", "p99")
                },
            }
        )
    return {
        "targets": results,
        "unavailable": unavailable,
        "ratios_frontdesk_over_peerjs": ratios,
        "ratios_cross_instance_over_single": cross,
        "seconds_per_phase": size.seconds,
        "rate_per_room": size.rate_per_room,
        "max_rate": size.max_rate,
        "window": size.window,
        "sdp_bytes": len(SDP),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None
