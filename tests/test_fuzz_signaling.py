"""A websocket fuzzer (hypothesis) for /api/signaling: random and mutated frames of every kind, each answered
by an error frame or a close code, never a server error and never a traceback, while a paired room elsewhere
keeps relaying. FUZZ_WS_EXAMPLES sets the examples (default 200; `make fuzz` runs more).

Named cases this leaves to tests/test_signaling.py: malformed JSON and binary frames on a joined socket, an
unknown type, a frame over the limit (1009, also past the server's own limit), one flooding socket (4429).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from frontdesk.settings import Settings
from frontdesk.signaling.protocol import CLIENT_TYPES, CloseCode

from conftest import TOKEN, LiveServer, ServerFactory, with_settings
from signaling_client import Peer, open_peer, streamer, viewer

EXAMPLES = int(os.environ.get("FUZZ_WS_EXAMPLES", "200"))
WAIT = 5.0
INVALID_UTF8 = 1007  # the websocket layer refuses a text frame that is not UTF-8
# Every close a fuzzed frame may earn. Never 1011 (our bug) nor 1006 (a socket dropped without a close frame).
CLOSES = {CloseCode.NORMAL, INVALID_UTF8, CloseCode.TOO_BIG, CloseCode.UNAUTHORIZED, CloseCode.ROOM_NOT_FOUND,
          CloseCode.CONFLICT, CloseCode.RATE_LIMITED, CloseCode.SERVER_FULL}
ERRORS = {"malformed", "invalid_message", "unknown_type", "not_joined", "already_joined", "peer_not_found",
          "peer_unavailable", "unauthorized", "room_not_found", "room_full", "too_many_rooms", "rate_limited",
          "frame_too_big"}
LEAKS = ("Traceback", 'File "', "frontdesk/", "site-packages")


@dataclass
class Arena:
    """The server under fuzz; a room no fuzzed frame is addressed to (the witness, which must keep relaying);
    and a room whose peers fuzzed frames are addressed to (its viewer's frames are drained in the
    background, as a browser would read them)."""

    live: LiveServer
    witness: tuple[Peer, Peer]
    target: Peer
    target_key: str
    relays: int = 0

    async def witness_relays(self) -> None:
        first, phone = self.witness
        self.relays += 1
        sdp = f"v=0 witness {self.relays}"
        await phone.send(type="offer", to=first.id, sdp=sdp)
        assert (await first.expect("offer")) == {"type": "offer", "from": phone.id, "sdp": sdp}
        await first.is_alive()  # the viewer only receives: its pings keep it past the liveness timeout


async def drain(peer: Peer) -> None:
    """Read everything, and ping now and then as a browser does, so a long run outlives the ping timeout."""

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(5)
            await peer.send(type="ping")

    pinging = asyncio.create_task(keepalive())
    try:
        while True:
            await peer.ws.recv()
    except ConnectionClosed:
        pass
    finally:
        pinging.cancel()


@pytest.fixture
async def arena(settings: Settings, start_server: ServerFactory) -> AsyncIterator[Arena]:
    # A generous rate (floods have their own test), and a slot freed at once when a fuzzed socket closes.
    fuzz = with_settings(settings, max_messages_per_second=5000.0, resume_grace_seconds=0.0, max_viewers_per_room=64)
    async with start_server(fuzz) as live:
        first = await viewer(live.ws_url)
        phone = await streamer(live.ws_url, first.room, first.joined["key"])
        await first.expect("peer-joined")
        target = await viewer(live.ws_url)
        drained = asyncio.create_task(drain(target))
        try:
            yield Arena(live, (first, phone), target, target.joined["key"])
        finally:
            drained.cancel()


# ---- frames -------------------------------------------------------------------------------------------

SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Text that is not quite JSON, or JSON that is not quite a frame.
ODD_TEXT = st.sampled_from([
    "NaN", "Infinity", "-Infinity", '{"type": "offer", "to": "x", "sdp": NaN}', '{"type": "ping"',
    '{"type": "ping"}{"type": "ping"}', '\ufeff{"type": "ping"}', '{"type": "ping", "type": "join"}', "",
    " ", "null", "[]", '{"type": null}', '{"type": ["ping"]}', '{"type": "PING"}', '{"type": "ping\\u0000"}',
    '{"type": "join", "role": "viewer", "token": "' + "t" * 600 + '"}',
    '{"type": "candidate", "to": "x", "candidate": {"candidate": "c", "sdpMLineIndex": 1e400}}',
])


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    text: bool = True  # bytes sent as a text frame: not UTF-8
    invalid: bool = True  # False: it may happen to be a valid frame


def valid_frames(to: str, room: str, key: str) -> list[dict[str, Any]]:
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    return [
        {"type": "ping"},
        {"type": "leave"},
        {"type": "join", "role": "viewer", "token": TOKEN, "room": room},
        {"type": "join", "role": "streamer", "room": room, "key": key},
        {"type": "offer", "to": to, "sdp": "v=0"},
        {"type": "answer", "to": to, "sdp": "v=0"},
        {"type": "candidate", "to": to, "candidate": candidate},
        {"type": "candidate", "to": to, "candidate": None},
    ]


@st.composite
def mutants(draw: st.DrawFn, arena: Arena) -> Frame:
    """A valid frame with one field set to a random value, dropped, or added."""
    frame = dict(draw(st.sampled_from(valid_frames(arena.target.id, arena.target.room, arena.target_key))))
    how = draw(st.sampled_from(["set", "drop", "add", "retype"]))
    if how == "set":
        frame[draw(st.sampled_from(sorted(frame)))] = draw(JSON)
    elif how == "drop" and len(frame) > 1:
        frame.pop(draw(st.sampled_from(sorted(k for k in frame if k != "type"))))
    elif how == "add":
        frame[draw(st.text(min_size=1, max_size=8))] = draw(JSON)
    else:
        frame["type"] = draw(st.text(max_size=12))
    return Frame(json.dumps(frame), invalid=False)


def classify(text: str) -> Frame:
    """Invalid for sure unless it is a JSON object whose type is one of ours."""
    try:
        value = json.loads(text)
    except ValueError:
        return Frame(text)
    maybe = isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in CLIENT_TYPES
    return Frame(text, invalid=not maybe)


def not_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return True
    return False


def frames(arena: Arena) -> st.SearchStrategy[Frame]:
    return st.one_of(
        JSON.map(json.dumps).map(classify),
        mutants(arena),
        st.text(max_size=200).map(classify),
        ODD_TEXT.map(classify),
        st.binary(max_size=200).map(lambda data: Frame(data, text=False)),
        st.binary(min_size=1, max_size=60).filter(not_utf8).map(lambda data: Frame(data, text=True)),
    )


# ---- the fuzzer ---------------------------------------------------------------------------------------


async def answer_to(peer: Peer, frame: Frame) -> tuple[list[dict[str, Any]], int | None]:
    """Send `frame`, then a ping as a marker; everything the server sends until the pong (or a close)."""
    received: list[dict[str, Any]] = []
    try:
        await peer.ws.send(frame.data, text=frame.text)
        await peer.send(type="ping")
        async with asyncio.timeout(WAIT):
            while True:
                received.append(json.loads(await peer.ws.recv()))
                if received[-1]["type"] == "pong":
                    return received, None
    except ConnectionClosed:
        pass
    async with asyncio.timeout(WAIT):
        await peer.ws.wait_closed()
    return received, peer.ws.close_code


def assert_no_leak(received: list[dict[str, Any]], reason: str | None = None) -> None:
    for frame in received:
        if frame["type"] == "error":
            assert frame["code"] in ERRORS, frame
            assert isinstance(frame["message"], str) and frame["message"], frame
            assert not any(leak in frame["message"] for leak in LEAKS), frame
    assert not any(leak in (reason or "") for leak in LEAKS), reason


@given(data=st.data())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") is None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
async def test_every_fuzzed_frame_gets_an_error_or_a_close_and_other_rooms_keep_relaying(
    arena: Arena, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    caplog.set_level(logging.WARNING, logger="frontdesk")
    caplog.clear()
    frame = data.draw(frames(arena), label="frame")
    peer = await open_peer(arena.live.ws_url)
    try:
        if data.draw(st.booleans(), label="joined first"):
            await peer.send(type="join", role="viewer", token=TOKEN, room=arena.target.room)
            peer.joined = await peer.expect("joined")
        received, closed = await answer_to(peer, frame)
        assert_no_leak(received, peer.ws.close_reason)
        if closed is not None:
            assert closed in CLOSES, (closed, peer.ws.close_reason, received)
        if not frame.text:
            assert closed is None and received[0] == received[0] | {"type": "error", "code": "invalid_message"}
        elif isinstance(frame.data, bytes):
            assert closed == INVALID_UTF8, (closed, received)
        elif frame.invalid:
            assert closed is not None or any(f["type"] == "error" for f in received), received
    finally:
        await peer.close()
    await arena.witness_relays()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and not uvicorn_utf8(r)] == []


def uvicorn_utf8(record: logging.LogRecord) -> bool:
    """uvicorn's own log line (with a traceback, server-side only) for a text frame that is not UTF-8, which
    it then closes with 1007: not ours to change, and the client sees only the close code."""
    return record.name == "uvicorn.error" and record.getMessage() == "Invalid UTF-8 sequence received from client."


# ---- the big and the many -----------------------------------------------------------------------------


async def test_deep_nesting_is_an_error_frame_and_the_socket_stays_open(arena: Arena) -> None:
    """A value nested 30,000 deep inside a field used to be decoded into a RecursionError: `internal_error`,
    close 1011 and a traceback in the log."""
    peer = await open_peer(arena.live.ws_url)
    for depth in (100, 30_000):
        deep = '{"type": "offer", "to": "x", "sdp": ' + "[" * depth + "]" * depth + "}"
        received, closed = await answer_to(peer, Frame(deep))
        assert closed is None and received[0]["type"] == "error", received
        assert received[0]["code"] in ("malformed", "invalid_message")
        assert_no_leak(received)
    await arena.witness_relays()


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024, 10 * 1024 * 1024])
async def test_huge_frames_are_closed_with_1009_and_other_rooms_keep_relaying(arena: Arena, size: int) -> None:
    for data, text in (("x" * size, True), (b"\x00" * size, False)):
        peer = await open_peer(arena.live.ws_url)
        received, closed = await answer_to(peer, Frame(data, text=text))
        assert closed == CloseCode.TOO_BIG, (closed, received)
    await arena.witness_relays()


async def test_floods_from_many_sockets_at_once_are_refused_and_the_witness_keeps_relaying(
    settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(settings, max_messages_per_second=20.0)) as live:
        first = await viewer(live.ws_url)
        phone = await streamer(live.ws_url, first.room, first.joined["key"])
        await first.expect("peer-joined")
        flooders = [await open_peer(live.ws_url) for _ in range(20)]

        async def flood(peer: Peer) -> list[dict[str, Any]]:
            try:
                for _ in range(500):
                    await peer.send(type="ping")
            except ConnectionClosed:
                pass
            return await peer.expect_close(CloseCode.RATE_LIMITED, timeout=30)

        floods = [asyncio.create_task(flood(peer)) for peer in flooders]
        for n in range(10):  # the witness relays while the floods run
            await phone.send(type="offer", to=first.id, sdp=f"v=0 {n}")
            assert (await first.expect("offer"))["sdp"] == f"v=0 {n}"
        for received in await asyncio.gather(*floods):
            assert_no_leak(received)
            assert {f["code"] for f in received if f["type"] == "error"} == {"rate_limited"}
        await phone.send(type="offer", to=first.id, sdp="v=0 after")
        assert (await first.expect("offer"))["sdp"] == "v=0 after"
