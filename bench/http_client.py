"""A minimal HTTP/1.1 keep-alive client for the load generator.

httpx spends about a millisecond of client CPU per request, on the same two cores the server uses; this
client writes pre-encoded requests and reads Content-Length bodies, so the numbers are the server's.
It understands exactly what the app sends (Content-Length, no chunking) and fails loudly on anything else.
"""

from __future__ import annotations

import asyncio
import contextlib


class HttpConnection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> HttpConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    def request_bytes(self, method: str, path: str, body: bytes = b"") -> bytes:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one pre-encoded request; (status, body). A keep-alive connection the server closed while it
        sat idle (uvicorn's keep-alive timeout) is reopened once."""
        assert self._reader is not None and self._writer is not None, "open() first"
        self._writer.write(request)
        status_line = await self._reader.readline()
        if not status_line:
            await self.close()
            await self.open()
            assert self._reader is not None and self._writer is not None
            self._writer.write(request)
            status_line = await self._reader.readline()
            if not status_line:
                raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ValueError("chunked responses are not expected from the app")
        if length is None:
            raise ValueError("response without Content-Length")
        return status, await self._reader.readexactly(length)
