"""The /api/signaling websocket: one receive task that decodes and acts, one send task that writes.

Everything a socket is sent (its own replies, relayed frames, room events, the final close) goes through
one outbox queue drained by the send task, so frames leave in the order they were produced and a slow
client never blocks the socket that relays to it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.websockets import WebSocket, WebSocketDisconnect

from frontdesk.errors import DatabaseUnavailable
from frontdesk.http import JSONResponse
from frontdesk.signaling import protocol
from frontdesk.signaling.protocol import (
    Answer,
    Candidate,
    CloseCode,
    Join,
    Leave,
    LeaveReason,
    Offer,
    Ping,
    Pong,
    SignalingError,
)
from frontdesk.signaling.rooms import Membership, RoomManager, TokenBucket, Verdict

log = logging.getLogger(__name__)

# A client that lets this many frames pile up unread is not keeping up; it is closed (and may resume).
OUTBOX_LIMIT = 1024
# How long the close frame (and the error before it) may take to go out to a client that does not read.
CLOSE_TIMEOUT = 5.0

_PONG = protocol.encode(Pong())


def unavailable(joined: bool) -> SignalingError:
    message = "room state is unreachable for a moment (database); retry shortly"
    return SignalingError("unavailable", message, None if joined else CloseCode.TRY_AGAIN_LATER)


def origin_allowed(headers: Headers, allowed: tuple[str, ...]) -> bool:
    """Browsers always send Origin on a websocket; only non-browser clients leave it out."""
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if "*" in allowed or origin in {item.rstrip("/") for item in allowed}:
        return True
    parts = urlsplit(origin)
    host = headers.get("host", "")
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Connection:
    """One accepted websocket, and the Sink its peer's inbox is delivered to."""

    def __init__(self, websocket: WebSocket, manager: RoomManager) -> None:
        self.id = secrets.token_urlsafe(8)
        self.websocket = websocket
        self.manager = manager
        self.settings = manager.settings
        self.outbox: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.membership: Membership | None = None
        self.closing: _Close | None = None  # once set, no further frame from the client is acted on
        self.leave_reason: LeaveReason | None = None  # None: the peer stays for the resume grace
        self.limiter = TokenBucket(self.settings.max_messages_per_second, manager.burst, time.monotonic())
        self.rate_limited = False

    # ---- Sink: called by the backend and the manager ------------------------------------------------

    def deliver(self, frame: str) -> None:
        if self.closing is not None:
            return
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.leave_reason = "timeout"
            self._close(CloseCode.LIVENESS_TIMEOUT, "not reading")
            return
        self.outbox.put_nowait(frame)

    def replaced(self) -> None:
        self.membership = None  # the identity lives on in the newer socket
        self.fail(SignalingError("replaced", "a newer connection resumed this peer", CloseCode.REPLACED))

    def go_away(self) -> None:
        self._close(CloseCode.GOING_AWAY, "server going away")

    def admitted(self, membership: Membership) -> None:
        self.membership = membership

    # ---- errors and closing -------------------------------------------------------------------------

    def fail(self, error: SignalingError) -> None:
        self.manager.count_error(error.code)
        self.deliver(protocol.encode(error.frame()))
        if error.close is not None:
            self._close(error.close, error.code)

    def _close(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = _Close(code, reason)
            self.outbox.put_nowait(self.closing)

    # ---- the two tasks ------------------------------------------------------------------------------

    async def run(self) -> None:
        self.manager.members.add(self)
        receiver = asyncio.create_task(self._receive_loop(), name=f"signaling-receive-{self.id}")
        sender = asyncio.create_task(self._send_loop(), name=f"signaling-send-{self.id}")
        try:
            await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender.done() or self.closing is not None:
                # We are closing: let the last frames and the close go out; the client's close reply (or its
                # absence) then ends the receive task.
                await asyncio.wait({sender}, timeout=CLOSE_TIMEOUT)
                await asyncio.wait({receiver}, timeout=1.0)
        finally:
            for task in (receiver, sender):
                task.cancel()
            await asyncio.gather(receiver, sender, return_exceptions=True)
            try:
                await self._settle()
            finally:
                self.manager.members.discard(self)

    async def _settle(self) -> None:
        """What the socket's end means for its peer: gone for good, or away for the resume grace."""
        membership, self.membership = self.membership, None
        if membership is None:
            return
        try:
            if self.leave_reason is not None:
                await self.manager.remove(membership, self.id, self.leave_reason)
            else:
                await self.manager.disconnect(membership, self)
        except DatabaseUnavailable:
            # The record still names this socket. Once the database is back this instance's reconcile finds
            # the socket gone and marks the peer away: it resumes, or is reported as left after the grace.
            log.warning("signaling: peer %s of room %s closed during a database outage; settled once it is back",
                        membership.peer_id, membership.room_id)

    async def _send_loop(self) -> None:
        while True:
            item = await self.outbox.get()
            try:
                if isinstance(item, _Close):
                    await self.websocket.close(item.code, item.reason)
                    return
                await self.websocket.send_text(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return  # the client is gone; the receive task hears of it

    async def _receive_loop(self) -> None:
        timeout = self.settings.ping_timeout_seconds
        while self.closing is None:
            try:
                async with asyncio.timeout(timeout):
                    message = await self.websocket.receive()
            except TimeoutError:
                self.leave_reason = "timeout"
                self.fail(SignalingError("timeout", f"nothing received for {timeout:g} s", CloseCode.LIVENESS_TIMEOUT))
                return
            if message["type"] == "websocket.disconnect":
                self._closed_by_client(message.get("code"))
                return
            try:
                await self._handle(message.get("text"))
            except SignalingError as error:
                self.fail(error)
            except DatabaseUnavailable:
                # Room state lives in the database (SIGNALING_BACKEND=postgres) and it is away: a joined peer
                # may retry the message; a socket that could not even join is told to come back later.
                self.fail(unavailable(joined=self.membership is not None))
            except Exception:
                log.exception("signaling: unexpected error handling a frame")
                self.fail(SignalingError("internal_error", "internal server error", CloseCode.INTERNAL_ERROR))

    def _closed_by_client(self, code: int | None) -> None:
        if self.leave_reason is not None:
            return
        if code == CloseCode.NORMAL:
            self.leave_reason = "left"  # a deliberate close counts as leaving
        elif code == CloseCode.TOO_BIG:
            # The server's websocket layer refused an oversize frame before the handler saw it.
            self.manager.count_error("frame_too_big")
            self.leave_reason = "closed"

    async def _handle(self, text: str | None) -> None:
        if text is None:
            raise SignalingError("invalid_message", "binary frames are not understood; send JSON text frames")
        limit = self.settings.max_frame_bytes
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
            self.leave_reason = "closed"
            raise SignalingError("frame_too_big", f"frames are limited to {limit} bytes", CloseCode.TOO_BIG)
        verdict = self.limiter.take(time.monotonic())
        if verdict is Verdict.CLOSE:
            self.leave_reason = "closed"
            rate = self.settings.max_messages_per_second
            raise SignalingError("rate_limited", f"kept sending past {rate:g} messages/s", CloseCode.RATE_LIMITED)
        if verdict is Verdict.DROP:
            if not self.rate_limited:  # one error per episode, not one per dropped frame
                self.rate_limited = True
                rate = self.settings.max_messages_per_second
                raise SignalingError("rate_limited", f"over {rate:g} messages/s: frames are being dropped")
            return
        self.rate_limited = False
        await self._act(protocol.decode(text))

    async def _act(self, message: protocol.ClientMessage) -> None:
        if isinstance(message, Ping):
            self.deliver(_PONG)
        elif isinstance(message, Join):
            if self.membership is not None:
                raise SignalingError("already_joined", "this socket has joined already; open another to join again")
            try:
                await self.manager.join(self, message)
            except DatabaseUnavailable:
                # Fatal even when the peer was admitted already (its record saved, its `joined` maybe sent):
                # a socket whose attach failed gets no frame from another instance and would be taken for
                # gone once the database is back. Closed with 1013, its client resumes the identity.
                raise unavailable(joined=False) from None
        elif isinstance(message, Leave):
            self.leave_reason = "left"  # the peer is removed once the socket is closed (_settle)
            self._close(CloseCode.NORMAL, "left")
        elif isinstance(message, (Offer, Answer, Candidate)):
            if self.membership is None:
                raise SignalingError("not_joined", "join a room first")
            await self.manager.relay(self.membership, message)


async def signaling_socket(websocket: WebSocket) -> None:
    manager: RoomManager = websocket.app.state.signaling
    if not origin_allowed(websocket.headers, manager.settings.cors_origins):
        manager.count_error("forbidden_origin")
        log.info("signaling socket refused: origin %r is not allowed", websocket.headers.get("origin"))
        body = {"error": {"code": "forbidden_origin", "message": "this origin may not open the signaling socket",
                          "detail": None}}
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(JSONResponse(body, status_code=403))
        else:
            await websocket.close(code=1008)  # servers without the denial extension answer 403 to this
        return
    await websocket.accept()
    await Connection(websocket, manager).run()
