"""Faults the app must live through without a hang, a restart or a half-written row: the database stopping in
the middle of traffic, clients that vanish mid-upload, and SIGTERM to the real `python -m frontdesk serve`
(docs/reliability.md)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed

from frontdesk import embedded
from frontdesk.settings import Settings
from serve_process import frontdesk_process, until_healthy

from api_support import FACE_DIM, customer, error, ok, vector
from conftest import TOKEN, LiveServer, ServerFactory, with_settings
from signaling_client import Peer, streamer, viewer

# No request may take longer than this. It only tells a hang from an answer: the pool timeout is 2 s, and how
# fast the app answers is measured in bench/, never asserted here.
HANG = 15.0
BATCH = 20  # face embeddings per batch in the fault traffic
ROOT = Path(__file__).resolve().parents[1]


def faces(tag: str, n: int = BATCH) -> dict[str, object]:
    """A face batch whose items carry `tag` in their idempotency hash, so its rows can be counted."""
    seed = abs(hash(tag)) % 1_000_000
    return {
        "items": [
            {"embedding": vector(FACE_DIM, seed + i), "model_name": "m", "idempotency_hash": f"{tag}-{i}"}
            for i in range(n)
        ]
    }


async def rows_per_batch(database_url: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT split_part(idempotency_hash, '-', 1), count(*) FROM customer_face_embeddings GROUP BY 1"
        )
        return {tag: n for tag, n in await cur.fetchall()}


async def room(ws_url: str) -> tuple[Peer, Peer]:
    first = await viewer(ws_url)
    phone = await streamer(ws_url, first.room, first.joined["key"])
    await first.expect("peer-joined")
    return first, phone


async def relays(first: Peer, phone: Peer, sdp: str) -> None:
    await phone.send(type="offer", to=first.id, sdp=sdp)
    assert (await first.expect("offer"))["sdp"] == sdp


async def answers(http: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> httpx.Response:
    """The response, which must come: a request that takes longer than HANG is a hang."""
    async with asyncio.timeout(HANG):
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


# ---- the database stops in the middle of traffic ------------------------------------------------------


async def test_a_database_that_stops_mid_traffic_costs_503s_not_hangs_and_no_batch_is_half_written(
    own_pg: embedded.EmbeddedPostgres, settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(settings, database_url=own_pg.url())) as live, live.client() as http:
        await _stop_and_restart_the_database_under_traffic(live, http, own_pg)


async def _stop_and_restart_the_database_under_traffic(
    live: LiveServer, http: httpx.AsyncClient, own: embedded.EmbeddedPostgres
) -> None:
    writers = [(await customer(http, consent=True))["id"] for _ in range(4)]
    first, phone = await room(live.ws_url)
    outcomes: dict[str, int] = {}
    stopping = asyncio.Event()

    async def write(n: int, customer_id: str) -> None:
        for b in itertools.count():
            if stopping.is_set():
                return
            tag = f"w{n}b{b}"
            response = await answers(http, "POST", f"/customers/{customer_id}/faces", json=faces(tag))
            outcomes[tag] = response.status_code
            if response.status_code == 503:
                error(response, 503, "database_unavailable")
                await asyncio.sleep(0.1)

    def count(status: int) -> int:
        return sum(1 for s in outcomes.values() if s == status)

    async def until(condition: object, within: float = 60.0) -> None:
        async with asyncio.timeout(within):
            while not condition():  # type: ignore[operator]
                await asyncio.sleep(0.05)

    traffic = [asyncio.create_task(write(n, c)) for n, c in enumerate(writers)]
    try:
        await until(lambda: count(200) >= 8)
        await asyncio.to_thread(own.pause)  # pg_ctl stop (fast): open transactions are rolled back

        # Down: every data endpoint answers 503 in the one error shape, after the pool timeout, not a hang.
        probes = await asyncio.gather(
            answers(http, "GET", "/customers"),
            answers(http, "GET", f"/customers/{writers[0]}/context"),
            answers(http, "POST", "/search/face", json={"embedding": vector(FACE_DIM, 1)}),
        )
        for response in probes:
            assert error(response, 503, "database_unavailable")["message"]
        await until(lambda: count(503) >= 4)
        # ... while signaling, which needs no database, keeps relaying in a room that was open and a new one.
        await relays(first, phone, "v=0 while the database is down")
        second, second_phone = await room(live.ws_url)
        await relays(second, second_phone, "v=0 a room opened while the database is down")
        async with live.client(token=None) as anonymous:
            assert (await answers(anonymous, "GET", "/readyz")).status_code == 503

        await asyncio.to_thread(own.resume)
        # Up again: the same app (no restart) serves data again by itself, and the writers get through.
        await until(lambda: count(200) >= 8 + 4 * len(writers))  # every writer got through again
        ok(await answers(http, "GET", "/customers"))
        await relays(first, phone, "v=0 after the database came back")
    finally:
        stopping.set()
        await asyncio.gather(*traffic)

    stored = await rows_per_batch(own.url())
    half_written = {tag: n for tag, n in stored.items() if n != BATCH}
    assert half_written == {}, half_written
    lost = [tag for tag, status in outcomes.items() if status == 200 and stored.get(tag) != BATCH]
    assert lost == []
    assert set(outcomes.values()) == {200, 503}
    # A batch that got a 503 is absent, unless the database went down between its commit and the answer.
    assert len([tag for tag, status in outcomes.items() if status == 503 and tag in stored]) <= len(writers)


# ---- clients that vanish mid-request --------------------------------------------------------------------


async def send_and_vanish(base_url: str, path: str, head: dict[str, str], body: bytes) -> None:
    """Send the request line, `head` and `body` over a raw socket, then drop the connection without a reply."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {TOKEN}",
             "Content-Type: application/json", *(f"{k}: {v}" for k, v in head.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    writer.transport.abort()


def finished(live: LiveServer, method: str, route: str) -> dict[str, float]:
    """How many requests to `route` the app has finished, by status (its own metrics)."""
    counts: dict[str, float] = {}
    for family in live.app.state.metrics.registry.collect():
        for sample in family.samples:
            labels = sample.labels
            if (sample.name == "frontdesk_http_requests_total" and labels.get("route") == route
                    and labels.get("method") == method):
                counts[labels["status"]] = sample.value
    return counts


async def until_finished(live: LiveServer, route: str, n: int) -> dict[str, float]:
    async with asyncio.timeout(HANG):
        while sum((counts := finished(live, "POST", route)).values()) < n:
            await asyncio.sleep(0.02)
    return counts


@pytest.fixture
def errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    for name in ("frontdesk", "uvicorn.error"):
        caplog.set_level(logging.INFO, logger=name)
    yield caplog


async def test_a_client_that_vanishes_mid_upload_leaves_nothing_and_no_error(
    server: LiveServer, client: httpx.AsyncClient, database_url: str, errors_logged: pytest.LogCaptureFixture
) -> None:
    c = await customer(client, consent=True)
    path, route = f"/customers/{c['id']}/faces", "/customers/{customer_id}/faces"
    body = json.dumps(faces("vanished", 200)).encode()
    await send_and_vanish(server.base_url, path, {"Content-Length": str(len(body))}, body[: len(body) // 2])
    chunk = body[: len(body) // 3]
    chunked = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"  # one chunk of several, then gone
    await send_and_vanish(server.base_url, path, {"Transfer-Encoding": "chunked"}, chunked)
    counts = await until_finished(server, route, 2)
    assert "500" not in counts, counts
    assert await rows_per_batch(database_url) == {}
    ok(await client.post(path, json=faces("after")))
    assert await rows_per_batch(database_url) == {"after": BATCH}
    assert [r.getMessage() for r in errors_logged.records if r.levelno >= logging.ERROR] == []


async def test_a_client_that_vanishes_while_its_batch_is_inserted_leaves_all_of_it_or_none(
    server: LiveServer, client: httpx.AsyncClient, database_url: str
) -> None:
    c = await customer(client, consent=True)
    path, route = f"/customers/{c['id']}/faces", "/customers/{customer_id}/faces"
    for n in range(3):  # whole bodies of 300 faces (~3 MB), each abandoned as soon as it is sent
        body = json.dumps(faces(f"abandoned{n}", 300)).encode()
        await send_and_vanish(server.base_url, path, {"Content-Length": str(len(body))}, body)
    await until_finished(server, route, 3)
    stored = await rows_per_batch(database_url)
    assert all(stored.get(f"abandoned{n}", 0) in (0, 300) for n in range(3)), stored
    ok(await client.get(path))


# ---- graceful shutdown of the real process ------------------------------------------------------------


@asynccontextmanager
async def request_held_open(
    base_url: str, path: str, body: bytes
) -> AsyncIterator[asyncio.Task[tuple[int, dict[str, object]]]]:
    """A POST whose handler is already reading the body when the block starts (the server's `100 Continue`
    says so); the body is sent when the block ends. Yields the task that reads the response."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n")
    writer.write(head.encode())
    await writer.drain()
    async with asyncio.timeout(HANG):
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"

    async def response() -> tuple[int, dict[str, object]]:
        async with asyncio.timeout(HANG):
            raw = await reader.read()  # the server closes the connection: it is shutting down
        writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(payload)

    try:
        yield asyncio.create_task(response())
    finally:
        writer.write(body)
        await writer.drain()


def reconnecting_close_codes() -> set[int]:
    """The close codes on which static/js/signaling.js reconnects at once (and which are not fatal)."""
    source = (ROOT / "static" / "js" / "signaling.js").read_text()
    fatal = set(map(int, re.findall(r"^\s*(\d{4}):", source.split("FATAL_CLOSES = {")[1].split("}")[0], re.M)))
    fast = [line for line in source.splitlines() if "backoffDelay(0)" in line]
    assert fast, "signaling.js no longer says which close codes mean a restarting server"
    return {int(code) for code in re.findall(r"code === (\d{4})", fast[0])} - fatal


def postmasters(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.mark.parametrize("database", ["external", "embedded"])
async def test_sigterm_closes_sockets_to_reconnect_finishes_requests_and_exits_0(
    database: str, tmp_path: Path, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url} if database == "external" else {"DATA_DIR": str(tmp_path / "data")}
    data = (tmp_path / "data" / "postgres").resolve()
    try:
        await _sigterm_during_traffic(database, tmp_path, database_url, env, data)
    finally:
        for leftover in postmasters(data):  # only if the test failed: never leave a server running
            leftover.send_signal(signal.SIGINT)


async def _sigterm_during_traffic(
    database: str, tmp_path: Path, database_url: str, env: dict[str, str], data: Path
) -> None:
    with frontdesk_process(tmp_path, **env) as (proc, port, log):
        base_url = f"http://127.0.0.1:{port}"
        await until_healthy(proc, base_url, log)
        ws_url = base_url.replace("http://", "ws://")
        async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            c = await customer(http, consent=True)
        first, phone = await room(ws_url)
        body = json.dumps(faces("inflight")).encode()
        async with request_held_open(base_url, f"/customers/{c['id']}/faces", body) as reply:
            proc.send_signal(signal.SIGTERM)
            codes = set()
            for peer in (first, phone):
                async with asyncio.timeout(HANG):
                    try:
                        while True:
                            await peer.ws.recv()
                    except ConnectionClosed:
                        pass
                codes.add(peer.ws.close_code)
        status, result = await reply
        exit_code = await asyncio.to_thread(proc.wait, HANG)
        output = log.read_text()

    assert status == 200 and result["created"] == BATCH, result
    assert codes and codes <= {1001, 1012} <= reconnecting_close_codes(), codes
    assert exit_code == 0, output
    assert "Application shutdown complete" in output  # the lifespan ran to its end: pool closed
    assert "Traceback" not in output
    assert f"POST /customers/{c['id']}/faces" in output and TOKEN not in output  # access log, no token
    if database == "external":
        assert (await rows_per_batch(database_url)) == {"inflight": BATCH}
    else:
        assert postmasters(data) == [], "the embedded Postgres outlived the app"
        assert not (data / "postmaster.pid").exists()
