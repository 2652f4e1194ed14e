"""`python -m bench.load`: mixed load on loopback, then proof that nothing was lost (docs/reliability.md).

API clients (each its own keep-alive connection and its own consented customer and session) send a mix of
batch writes and searches, pausing about --think seconds between requests (0: back to back); signaling
rooms (a phone and a viewer each) relay an offer/answer round trip every --room-interval seconds; all for a
fixed time, against `python -m frontdesk serve` in a subprocess. Then: every status counted (any 5xx fails
the run), every table's rows counted against the rows the acknowledged writes created (any missing row fails
it), p50/p99 per operation, and the app's RSS before, halfway, at the end and after the clients have gone.
Bounded by --seconds; everything runs on 127.0.0.1 and is stopped at the end.

    python -m bench.load --clients 200 --rooms 200 --seconds 60        # `make load`
    python -m bench.load --think 0 --room-interval 0.2                 # saturation: where 503s begin
    python -m bench.load --clients 8 --rooms 8 --seconds 3 --check     # the smoke run inside `make test`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import services
from bench.http_client import HttpConnection
from bench.stats import percentile

FACE_DIM, TEXT_DIM = services.FACE_DIM, services.TEXT_DIM
FACES_PER_BATCH, MEMORIES_PER_BATCH, CHUNKS_PER_BATCH = 5, 3, 4
# The mix, by weight: writes of every kind (a face batch is the biometric write), and the reads staff do.
MIX = {
    "face batch": 20,
    "memory batch": 10,
    "preference batch": 5,
    "transcript batch": 10,
    "face search": 25,
    "memory search": 15,
    "context": 15,
}
WRITES = ("face batch", "memory batch", "preference batch", "transcript batch")
RELAY_TIMEOUT = 10.0  # a relayed frame that takes longer than this counts as lost


def unit_vectors(dim: int, n: int, seed: int) -> list[bytes]:
    """`n` random unit vectors, JSON-encoded once (the client must not spend the server's CPU encoding)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [json.dumps([round(float(x), 6) for x in v]).encode() for v in vectors]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)  # rows the acknowledged writes say they created
    unacknowledged: Counter[str] = field(default_factory=Counter)  # writes without an answer (a 5xx, a drop)
    transport_errors: int = 0
    relays: int = 0
    relays_lost: int = 0
    relay_ms: list[float] = field(default_factory=list)
    sockets_closed: Counter[int] = field(default_factory=Counter)


@dataclass
class Client:
    """One API client: its connection, customer and session, and a counter for unique idempotency keys."""

    http: HttpConnection
    customer_id: str
    session_id: str
    n: int
    serial: itertools.count[int] = field(default_factory=itertools.count)


class Load:
    def __init__(self, base_url: str, token: str, tally: Tally, seed: int) -> None:
        self.host, port = base_url.removeprefix("http://").split(":")
        self.port, self.token, self.tally = int(port), token, tally
        self.rng = random.Random(seed)
        self.faces = unit_vectors(FACE_DIM, 64, seed)
        self.texts = unit_vectors(TEXT_DIM, 64, seed + 1)

    async def setup_client(self, n: int) -> Client:
        http = await HttpConnection(self.host, self.port, self.token).open()
        tag = uuid.uuid4().hex[:8]
        customer = await self._json(
            http,
            "POST",
            "/customers",
            {"external_id": f"load-{n}-{tag}", "display_name": f"Load {n}", "consent_for_biometrics": True},
        )
        staff = await self._json(http, "POST", "/employees", {"external_id": f"staff-{n}-{tag}", "display_name": "S"})
        visit = await self._json(
            http,
            "POST",
            "/sessions",
            {"employee_id": staff["id"], "session_key": f"visit-{n}-{tag}", "customer_id": customer["id"]},
        )
        return Client(http, customer["id"], visit["id"], n)

    async def _json(self, http: HttpConnection, method: str, path: str, body: object) -> Any:
        status, raw = await http.send(http.request_bytes(method, path, json.dumps(body).encode()))
        if status >= 300:
            raise RuntimeError(f"setup {method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw)

    def request(self, client: Client, op: str) -> tuple[str, str, bytes]:
        """(method, path, body) for one operation; write items carry keys unique to this client and call."""
        key = f"c{client.n}-{next(client.serial)}"
        face, text = self.rng.choice(self.faces), self.rng.choice(self.texts)
        if op == "face batch":
            items = b",".join(
                b'{"embedding":%s,"model_name":"m","idempotency_hash":"%s-%d"}'
                % (self.rng.choice(self.faces), key.encode(), i)
                for i in range(FACES_PER_BATCH)
            )
            return "POST", f"/customers/{client.customer_id}/faces", b'{"items":[%s]}' % items
        if op == "memory batch":
            items = b",".join(
                b'{"nugget":"note %s %d","embedding":%s,"model_name":"m"}' % (key.encode(), i, self.rng.choice(self.texts))
                for i in range(MEMORIES_PER_BATCH)
            )
            return "POST", f"/customers/{client.customer_id}/memories", b'{"items":[%s]}' % items
        if op == "preference batch":
            return (
                "POST",
                f"/customers/{client.customer_id}/preferences",
                b'{"items":[{"kind":"drink","value":"tea %s"}]}' % key.encode(),
            )
        if op == "transcript batch":
            first = next(client.serial) * CHUNKS_PER_BATCH
            chunks = b",".join(
                b'{"chunk_index":%d,"content":"words %d"}' % (first + i, first + i) for i in range(CHUNKS_PER_BATCH)
            )
            return "POST", f"/sessions/{client.session_id}/transcript", b'{"chunks":[%s]}' % chunks
        if op == "face search":
            return "POST", "/search/face", b'{"embedding":%s,"limit":5}' % face
        if op == "memory search":
            return "POST", "/search/memory", b'{"embedding":%s,"limit":10}' % text
        return "GET", f"/customers/{client.customer_id}/context", b""

    async def client_loop(self, client: Client, until: float, think: float) -> None:
        ops, weights = list(MIX), list(MIX.values())
        await asyncio.sleep(self.rng.uniform(0, think))  # spread the clients out
        while time.monotonic() < until:
            if think:
                await asyncio.sleep(self.rng.uniform(0.5 * think, 1.5 * think))
            op = self.rng.choices(ops, weights)[0]
            method, path, body = self.request(client, op)
            began = time.perf_counter()
            try:
                status, raw = await client.http.send(client.http.request_bytes(method, path, body))
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                self.tally.transport_errors += 1
                if op in WRITES:
                    self.tally.unacknowledged[op] += 1
                await client.http.close()
                await client.http.open()
                continue
            self.tally.latencies[op].append((time.perf_counter() - began) * 1000)
            self.tally.statuses[(op, status)] += 1
            if op in WRITES:
                if status == 200:
                    self.tally.created[op] += json.loads(raw)["created"]
                else:
                    self.tally.unacknowledged[op] += 1


# ---- signaling ----------------------------------------------------------------------------------------


async def recv_json(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]
        if frame["type"] == "error":
            raise RuntimeError(f"signaling error: {frame}")


async def open_room(ws_url: str, token: str) -> tuple[ClientConnection, ClientConnection, str, str]:
    viewer = await connect(f"{ws_url}/api/signaling", open_timeout=30, close_timeout=2)
    await viewer.send(json.dumps({"type": "join", "role": "viewer", "token": token}))
    joined = await recv_json(viewer, "joined")
    phone = await connect(f"{ws_url}/api/signaling", open_timeout=30, close_timeout=2)
    await phone.send(json.dumps({"type": "join", "role": "streamer", "room": joined["room"], "key": joined["key"]}))
    phone_id = (await recv_json(phone, "joined"))["peer_id"]
    await recv_json(viewer, "peer-joined")
    return viewer, phone, joined["peer_id"], phone_id


async def room_loop(ws_url: str, token: str, tally: Tally, until: float, interval: float, n: int) -> None:
    """Offer from the phone, answer from the viewer, at a steady pace; each round trip timed."""
    viewer, phone, viewer_id, phone_id = await open_room(ws_url, token)
    sdp = "v=0\r\n" + "a=x\r\n" * 40  # about the size of a real offer's first lines
    await asyncio.sleep(interval * (n % 10) / 10)  # spread the rooms over the interval
    try:
        while time.monotonic() < until:
            began = time.perf_counter()
            try:
                async with asyncio.timeout(RELAY_TIMEOUT):
                    await phone.send(json.dumps({"type": "offer", "to": viewer_id, "sdp": sdp}))
                    await recv_json(viewer, "offer")
                    await viewer.send(json.dumps({"type": "answer", "to": phone_id, "sdp": sdp}))
                    await recv_json(phone, "answer")
            except (TimeoutError, ConnectionClosed, RuntimeError):
                tally.relays_lost += 1
                break
            tally.relays += 2
            tally.relay_ms.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(interval)
    finally:
        for ws in (viewer, phone):
            if ws.close_code is not None and ws.close_code != 1000:
                tally.sockets_closed[ws.close_code] += 1
            await ws.close()


# ---- the run ------------------------------------------------------------------------------------------


# Rows of the load's own customers and sessions (external_id 'load-…', session_key 'visit-…'), per write.
ROW_COUNTS = {
    "face batch": "SELECT count(*) FROM customer_face_embeddings WHERE customer_id IN"
    " (SELECT id FROM customers WHERE external_id LIKE 'load-%')",
    "memory batch": "SELECT count(*) FROM customer_memory WHERE customer_id IN"
    " (SELECT id FROM customers WHERE external_id LIKE 'load-%')",
    "preference batch": "SELECT count(*) FROM customer_preferences WHERE customer_id IN"
    " (SELECT id FROM customers WHERE external_id LIKE 'load-%')",
    "transcript batch": "SELECT count(*) FROM transcript_chunks WHERE session_id IN"
    " (SELECT id FROM sessions WHERE session_key LIKE 'visit-%')",
}


async def count_rows(database_url: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        counts = {}
        for op, query in ROW_COUNTS.items():
            row = await (await conn.execute(query)).fetchone()
            counts[op] = int(row[0]) if row else 0
        return counts


def server_5xx(metrics: str) -> int:
    """5xx answers the app itself counted (frontdesk_http_requests_total)."""
    total = 0
    for line in metrics.splitlines():
        match = re.match(r'frontdesk_http_requests_total\{.*status="(\d+)".*\} ([0-9.e+]+)', line)
        if match and match[1].startswith("5"):
            total += int(float(match[2]))
    return total


async def sample_rss(app: services.App, rss: dict[str, int], midway: float, stop: asyncio.Event) -> None:
    """The peak, and the RSS halfway through and at the end of the load: a leak grows in the second half
    too, a high-water mark (buffers for this many connections, arenas Python keeps) does not."""
    while not stop.is_set():
        rss["peak"] = max(rss["peak"], now := app.process.rss())
        rss["end"] = now
        if "mid" not in rss and time.monotonic() >= midway:
            rss["mid"] = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def drive(
    app: services.App,
    database_url: str,
    clients: int,
    rooms: int,
    seconds: float,
    think: float,
    room_interval: float,
    seed: int,
) -> dict[str, Any]:
    tally = Tally()
    load = Load(app.base_url, services.TOKEN, tally, seed)
    api = await asyncio.gather(*(load.setup_client(n) for n in range(clients)))
    rss = {"before": app.process.rss()}
    rss["peak"] = rss["before"]
    stop = asyncio.Event()
    started = time.monotonic()
    until = started + seconds
    sampler = asyncio.create_task(sample_rss(app, rss, started + seconds / 2, stop))
    cpu = (app.process.cpu_seconds(), time.process_time())
    tasks: list[Awaitable[None]] = [load.client_loop(c, until, think) for c in api]
    tasks += [room_loop(app.ws_url, services.TOKEN, tally, until, room_interval, n) for n in range(rooms)]
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    cpu = (app.process.cpu_seconds() - cpu[0], time.process_time() - cpu[1])
    stop.set()
    await sampler
    metrics_status, metrics = await api[0].http.send(api[0].http.request_bytes("GET", "/metrics"))
    for c in api:
        await c.http.close()
    await asyncio.sleep(2.0)  # the server lets go of what the connections held
    rss["after"] = app.process.rss()
    rows = await count_rows(database_url)
    result = report(tally, rows, elapsed, clients, rooms, rss, server_5xx(metrics.decode()) if metrics_status == 200 else -1)
    result["cpu_seconds"] = {"app": round(cpu[0], 1), "load_generator": round(cpu[1], 1)}
    result["think_seconds"], result["room_interval_seconds"] = think, room_interval
    return result


def report(
    tally: Tally,
    rows: dict[str, int],
    elapsed: float,
    clients: int,
    rooms: int,
    rss: dict[str, int],
    server_errors: int,
) -> dict[str, Any]:
    requests = sum(tally.statuses.values())
    by_status: Counter[int] = Counter()
    for (_, status), n in tally.statuses.items():
        by_status[status] += n
    mib = 1024 * 1024
    return {
        "clients": clients,
        "rooms": rooms,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "requests_per_second": round(requests / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(by_status.items())},
        "http_5xx": sum(n for s, n in by_status.items() if s >= 500),
        "server_counted_5xx": server_errors,
        "transport_errors": tally.transport_errors,
        "operations": {
            op: {"count": len(lat), "p50_ms": round(percentile(lat, 50), 1), "p99_ms": round(percentile(lat, 99), 1)}
            for op, lat in sorted(tally.latencies.items())
        },
        "writes": {
            op: {
                "rows_acknowledged": tally.created[op],
                "rows_found": rows[op],
                "lost": max(0, tally.created[op] - rows[op]),
                "unacknowledged_writes": tally.unacknowledged[op],
            }
            for op in WRITES
        },
        "signaling": {
            "relayed_frames": tally.relays,
            "round_trips_lost": tally.relays_lost,
            "round_trip_p50_ms": round(percentile(tally.relay_ms, 50), 1),
            "round_trip_p99_ms": round(percentile(tally.relay_ms, 99), 1),
            "unexpected_closes": dict(tally.sockets_closed),
        },
        "app_rss_mib": {
            **{k: round(rss.get(k, rss["before"]) / mib, 1) for k in ("before", "mid", "end", "peak", "after")},
            "growth": round((rss["after"] - rss["before"]) / mib, 1),
            "second_half_growth": round((rss.get("end", 0) - rss.get("mid", 0)) / mib, 1),
        },
    }


def failures(result: dict[str, Any]) -> list[str]:
    found = []
    if result["http_5xx"] or result["server_counted_5xx"]:
        found.append(f"5xx answers: {result['http_5xx']} seen, {result['server_counted_5xx']} counted by the app")
    if result["transport_errors"]:
        found.append(f"{result['transport_errors']} requests got no answer")
    non_2xx = {s: n for s, n in result["statuses"].items() if not s.startswith("2")}
    if non_2xx:
        found.append(f"valid requests refused: {non_2xx}")
    for op, w in result["writes"].items():
        if w["lost"] or w["rows_found"] != w["rows_acknowledged"]:
            found.append(f"{op}: {w['rows_acknowledged']} rows acknowledged, {w['rows_found']} found")
    if result["signaling"]["round_trips_lost"] or result["signaling"]["unexpected_closes"]:
        found.append(f"signaling: {result['signaling']}")
    if result["requests"] == 0 or (result["rooms"] and result["signaling"]["relayed_frames"] == 0):
        found.append("no traffic")
    return found


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['clients']} API clients (think {result['think_seconds']} s) + {result['rooms']} signaling rooms "
        f"(a round trip every {result['room_interval_seconds']} s) for {result['seconds']} s: "
        f"{result['requests']} requests ({result['requests_per_second']}/s), statuses {result['statuses']}, "
        f"5xx {result['http_5xx']}, relayed frames {result['signaling']['relayed_frames']}.",
        "",
        "| operation | count | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(f"| {op} | {o['count']} | {o['p50_ms']} | {o['p99_ms']} |" for op, o in result["operations"].items()),
        f"| signaling round trip (offer + answer) | {result['signaling']['relayed_frames'] // 2} | "
        f"{result['signaling']['round_trip_p50_ms']} | {result['signaling']['round_trip_p99_ms']} |",
        "",
        "| write | rows acknowledged | rows found | lost |",
        "|---|---:|---:|---:|",
        *(f"| {op} | {w['rows_acknowledged']} | {w['rows_found']} | {w['lost']} |" for op, w in result["writes"].items()),
        "",
        "App RSS (MiB): before {before}, halfway {mid}, at the end {end}, peak {peak}, 2 s after {after}: "
        "growth {growth}, of which {second_half_growth} in the second half.".format(**result["app_rss_mib"]),
        "CPU seconds used: app {app}, load generator {load_generator}.".format(**result.get("cpu_seconds", {})),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="concurrent API clients (default 200)")
    parser.add_argument("--rooms", type=int, default=200, help="signaling rooms, two sockets each (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs (default 60)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.5,
        help="mean pause between a client's requests, seconds (default 0.5; 0: back to back)",
    )
    parser.add_argument(
        "--room-interval", type=float, default=1.0, help="pause between a room's round trips, seconds (default 1)"
    )
    parser.add_argument("--pool", type=int, default=20, help="the app's POOL_MAX_SIZE (default 20)")
    parser.add_argument("--database-url", help="an empty, migrated database to use (default: an embedded one)")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    parser.add_argument("--check", action="store_true", help="exit 1 on any 5xx, lost write or lost relay")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 1000 and 0 <= args.rooms <= 1000 and 0 < args.seconds <= 3600):
        parser.error("--clients 1..1000, --rooms 0..1000, --seconds up to 3600")

    with tempfile.TemporaryDirectory(prefix="frontdesk-load-") as tmp:
        logs = Path(tmp)
        pg = None if args.database_url else services.Postgres(logs)
        try:
            url = args.database_url or pg.create("load")  # type: ignore[union-attr]
            env = {"POOL_MAX_SIZE": str(args.pool), "MAX_ROOMS": str(max(1000, args.rooms))}
            with services.app(url, logs, **env) as app:
                result = asyncio.run(
                    drive(app, url, args.clients, args.rooms, args.seconds, args.think, args.room_interval, args.seed)
                )
                if not app.process.running():
                    result["app_exited"] = app.process.tail()
        finally:
            if pg is not None:
                pg.stop()
    print(markdown(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    problems = failures(result) + (["the app exited"] if "app_exited" in result else [])
    if args.check and problems:
        print("\nFAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
