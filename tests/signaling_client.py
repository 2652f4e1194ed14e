"""A small signaling client for tests and benchmarks: real `websockets` connections to a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conftest import TOKEN

WAIT = 5.0  # seconds any one frame may take to arrive before a test fails


class Peer:
    """One socket; `joined` holds the server's `joined` frame once it has joined."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.joined: dict[str, Any] = {}

    @property
    def id(self) -> str:
        return str(self.joined["peer_id"])

    @property
    def room(self) -> str:
        return str(self.joined["room"])

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = WAIT) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        result: dict[str, Any] = json.loads(frame)
        return result

    async def expect(self, kind: str, timeout: float = WAIT) -> dict[str, Any]:
        frame = await self.recv(timeout)
        assert frame["type"] == kind, frame
        return frame

    async def expect_error(self, code: str) -> dict[str, Any]:
        frame = await self.expect("error")
        assert frame["code"] == code, frame
        assert frame["message"]
        return frame

    async def expect_close(self, code: int, timeout: float = WAIT) -> list[dict[str, Any]]:
        """Read until the server closes; returns the frames that came first."""
        frames = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    frames.append(json.loads(await self.ws.recv()))
        except ConnectionClosed:
            pass
        assert self.ws.close_code == code, (self.ws.close_code, self.ws.close_reason, frames)
        return frames

    async def is_alive(self) -> None:
        """A ping answered by a pong: the socket is open and nothing else is waiting for it."""
        await self.send(type="ping")
        await self.expect("pong")

    async def close(self) -> None:
        await self.ws.close()

    def drop(self) -> None:
        """Vanish without a close frame, like a phone leaving Wi-Fi."""
        assert self.ws.transport is not None
        self.ws.transport.abort()


async def open_peer(ws_url: str, origin: str | None = None) -> Peer:
    ws = await connect(f"{ws_url}/api/signaling", origin=origin, open_timeout=WAIT, close_timeout=1)  # type: ignore[arg-type]
    return Peer(ws)


async def viewer(ws_url: str, room: str | None = None, resume: str | None = None, token: str = TOKEN) -> Peer:
    peer = await open_peer(ws_url)
    await peer.send(type="join", role="viewer", token=token, room=room, resume=resume)
    peer.joined = await peer.expect("joined")
    return peer


async def streamer(ws_url: str, room: str, key: str, resume: str | None = None) -> Peer:
    peer = await open_peer(ws_url)
    await peer.send(type="join", role="streamer", room=room, key=key, resume=resume)
    peer.joined = await peer.expect("joined")
    return peer
