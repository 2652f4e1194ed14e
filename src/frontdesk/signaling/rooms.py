"""The room manager: who may join which room as what, relaying between members, and the limits.

Every rule lives here; state lives in a `SignalingBackend` (backend.py), so the same manager runs over
the in-process backend or a shared one. One manager per app, kept on app.state: nothing global.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from frontdesk.auth import token_is_valid
from frontdesk.errors import DatabaseUnavailable
from frontdesk.settings import Settings
from frontdesk.signaling import ice
from frontdesk.signaling.backend import PeerRecord, RoomRecord, SignalingBackend, Sink, address
from frontdesk.signaling.protocol import (
    CloseCode,
    Join,
    Joined,
    LeaveReason,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    Relayable,
    SignalingError,
    encode,
    stamped,
)

log = logging.getLogger(__name__)


def new_room_id() -> str:
    return secrets.token_urlsafe(12)


def new_peer_id() -> str:
    return secrets.token_urlsafe(8)


def new_join_key() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


def new_resume_token() -> str:
    return secrets.token_urlsafe(24)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _same_secret(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


class Member(Sink, Protocol):
    """A socket as the manager sees it: an id, and the Sink the backend delivers to."""

    @property
    def id(self) -> str: ...

    def go_away(self) -> None: ...

    def admitted(self, membership: Membership) -> None:
        """Called the moment the peer exists, before any await: a cancelled join leaves no ghost peer."""
        ...


@dataclass(frozen=True)
class Membership:
    room_id: str
    peer_id: str
    role: str

    @property
    def address(self) -> str:
        return address(self.room_id, self.peer_id)


class Verdict(Enum):
    ALLOW = "allow"
    DROP = "drop"
    CLOSE = "close"


class TokenBucket:
    """Per-connection rate limit: `rate` messages a second with bursts of `burst`.

    Past the burst, messages are dropped while the level sinks below zero; a client that keeps sending
    until it owes another full burst is closed.
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.level = burst
        self.updated = now

    def take(self, now: float) -> Verdict:
        self.level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now
        self.level -= 1
        if self.level >= 0:
            return Verdict.ALLOW
        return Verdict.CLOSE if self.level < -self.burst else Verdict.DROP


class RoomManager:
    def __init__(self, settings: Settings, backend: SignalingBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.members: set[Member] = set()  # sockets on this instance, joined or not
        self.relayed = 0
        self.errors: Counter[str] = Counter()

    @property
    def ping_interval(self) -> float:
        """What clients are told: a third of the timeout, so two lost pings are not yet a drop."""
        return round(self.settings.ping_timeout_seconds / 3, 3)

    @property
    def burst(self) -> float:
        return 2 * self.settings.max_messages_per_second

    # ---- joining ------------------------------------------------------------------------------------

    async def join(self, member: Member, message: Join) -> None:
        """Admit the socket, send it `joined` (then anything waiting for it), tell the others."""
        now = time.time()
        if message.role == "viewer" and not token_is_valid(message.token, self.settings.api_tokens):
            raise SignalingError("unauthorized", "a viewer joins with a valid API token", CloseCode.UNAUTHORIZED)
        if message.role == "viewer" and message.room is None:
            await self._create(member, now)
            return
        if message.room is None:
            raise SignalingError("invalid_message", "$.room: a streamer joins an existing room; name it")

        resume_token = new_resume_token()
        replaced: PeerRecord | None = None
        async with self.backend.edit_room(message.room) as room:
            if room is None:
                raise SignalingError("room_not_found", "no such room (it may have expired)", CloseCode.ROOM_NOT_FOUND)
            if message.role == "streamer" and not _same_secret(message.key, room.key):
                raise SignalingError("unauthorized", "wrong camera join key for this room", CloseCode.UNAUTHORIZED)
            peer = self._resumable(room, message)
            resumed = peer is not None
            if peer is not None:
                assert message.resume is not None
                resume_token = message.resume
                peer.connection, peer.away_since = member.id, None
            else:
                replaced = self._make_room_for(room, message)
                if replaced is not None:
                    room.peers.remove(replaced)
                    await self.backend.close_inbox(address(room.room_id, replaced.peer_id))
                peer = PeerRecord(
                    peer_id=new_peer_id(), role=message.role, resume_hash=_digest(resume_token), connection=member.id
                )
                room.peers.append(peer)
                room.empty_since = None
                await self.backend.open_inbox(address(room.room_id, peer.peer_id))
            others = [other for other in room.peers if other.peer_id != peer.peer_id]
            key = room.key

        membership = Membership(message.room, peer.peer_id, peer.role)
        member.admitted(membership)
        if replaced is not None:
            await self._tell(membership.room_id, others, PeerLeft(replaced.peer_id, "replaced"))
        if not resumed:
            await self._tell(membership.room_id, others, PeerJoined(PeerInfo(peer.peer_id, peer.role)))
        joined = self._joined(membership, resume_token, others, key if peer.role == "viewer" else None, resumed, now)
        await self._welcome(member, membership, joined)
        log.debug("room %s: peer %s %s as %s", membership.room_id, peer.peer_id,
                  "resumed" if resumed else "joined", peer.role)

    async def _create(self, member: Member, now: float) -> None:
        resume_token = new_resume_token()
        peer = PeerRecord(peer_id=new_peer_id(), role="viewer", resume_hash=_digest(resume_token), connection=member.id)
        room = RoomRecord(room_id=new_room_id(), key=new_join_key(), created_at=now, empty_since=None, peers=[peer])
        membership = Membership(room.room_id, peer.peer_id, "viewer")
        await self.backend.open_inbox(membership.address)
        if not await self.backend.create_room(room, self.settings.max_rooms):
            await self.backend.close_inbox(membership.address)
            limit = self.settings.max_rooms
            raise SignalingError("too_many_rooms", f"this server holds {limit} rooms already", CloseCode.SERVER_FULL)
        member.admitted(membership)
        await self._welcome(member, membership, self._joined(membership, resume_token, [], room.key, False, now))
        log.info("room %s created", room.room_id)

    def _resumable(self, room: RoomRecord, message: Join) -> PeerRecord | None:
        if message.resume is None:
            return None
        digest = _digest(message.resume)
        found = None
        for peer in room.peers:  # compare with every peer: the time taken does not say which matched
            if hmac.compare_digest(peer.resume_hash, digest) and peer.role == message.role:
                found = peer
        return found

    def _make_room_for(self, room: RoomRecord, message: Join) -> PeerRecord | None:
        """Check the role's limit; returns an away streamer that a new streamer takes the place of."""
        if message.role == "viewer":
            if room.viewer_count() >= self.settings.max_viewers_per_room:
                limit = self.settings.max_viewers_per_room
                raise SignalingError("room_full", f"this room has its {limit} viewers already", CloseCode.CONFLICT)
            return None
        streamer = room.streamer()
        if streamer is not None and streamer.connection is not None:
            raise SignalingError(
                "streamer_present", "a camera is already streaming in this room", CloseCode.CONFLICT
            )
        return streamer  # None, or away (socket gone): its slot must not be held hostage

    def _joined(
        self, membership: Membership, resume_token: str, others: list[PeerRecord], key: str | None,
        resumed: bool, now: float,
    ) -> Joined:
        return Joined(
            room=membership.room_id,
            peer_id=membership.peer_id,
            role=membership.role,  # type: ignore[arg-type]
            resume_token=resume_token,
            key=key,
            peers=[PeerInfo(other.peer_id, other.role) for other in others],
            ice_servers=ice.ice_servers(self.settings, membership.peer_id, now),
            ping_interval=self.ping_interval,
            resumed=resumed,
        )

    async def _welcome(self, member: Member, membership: Membership, joined: Joined) -> None:
        member.deliver(encode(joined))
        await self.backend.attach(membership.address, member)

    # ---- relaying -----------------------------------------------------------------------------------

    async def relay(self, membership: Membership, message: Relayable) -> None:
        room = await self.backend.get_room(membership.room_id)
        target = room.peer(message.to) if room is not None else None
        if target is None or message.to == membership.peer_id:
            raise SignalingError("peer_not_found", f"no other peer {message.to!r} in this room")
        frame = encode(stamped(message, membership.peer_id))
        if not await self.backend.send(address(membership.room_id, message.to), frame):
            raise SignalingError("peer_unavailable", f"peer {message.to!r} is reconnecting and its queue is full")
        self.relayed += 1

    async def _tell(self, room_id: str, peers: list[PeerRecord], event: PeerJoined | PeerLeft) -> None:
        frame = encode(event)
        for peer in peers:
            await self.backend.send(address(room_id, peer.peer_id), frame)

    # ---- leaving ------------------------------------------------------------------------------------

    async def remove(self, membership: Membership, member_id: str, reason: LeaveReason) -> None:
        """The peer is gone for good (leave, timeout, misbehaviour): the others get peer-left."""
        async with self.backend.edit_room(membership.room_id) as room:
            if room is None:
                return
            peer = room.peer(membership.peer_id)
            if peer is None or peer.connection != member_id:
                return  # already removed, or its identity moved to a newer socket
            room.peers.remove(peer)
            if not room.peers:
                room.empty_since = time.time()
            await self.backend.close_inbox(membership.address)
            others = list(room.peers)
        await self._tell(membership.room_id, others, PeerLeft(membership.peer_id, reason))
        log.debug("room %s: peer %s left (%s)", membership.room_id, membership.peer_id, reason)

    async def disconnect(self, membership: Membership, member: Member) -> None:
        """The socket went away without leaving: keep the identity for the resume grace, tell nobody."""
        await self.backend.detach(membership.address, member)
        if self.settings.resume_grace_seconds <= 0:
            await self.remove(membership, member.id, "closed")
            return
        async with self.backend.edit_room(membership.room_id) as room:
            peer = room.peer(membership.peer_id) if room is not None else None
            if peer is not None and peer.connection == member.id:
                peer.connection, peer.away_since = None, time.time()

    # ---- expiry -------------------------------------------------------------------------------------

    async def sweep(self, now: float) -> None:
        """Drop peers away past the grace window, and rooms empty past idle_room_seconds."""
        for room_id in await self.backend.room_ids():
            room = await self.backend.get_room(room_id)
            if room is not None and (self._expired(room, now) or self._idle(room, now)):
                await self._expire(room_id, now)

    def _expired(self, room: RoomRecord, now: float) -> list[PeerRecord]:
        grace = self.settings.resume_grace_seconds
        return [p for p in room.peers if p.connection is None and p.away_since is not None and now - p.away_since >= grace]

    def _idle(self, room: RoomRecord, now: float) -> bool:
        return not room.peers and room.empty_since is not None and now - room.empty_since >= self.settings.idle_room_seconds

    async def _expire(self, room_id: str, now: float) -> None:
        async with self.backend.edit_room(room_id) as room:
            if room is None:
                return
            expired = self._expired(room, now)
            for peer in expired:
                room.peers.remove(peer)
                await self.backend.close_inbox(address(room_id, peer.peer_id))
            if expired and not room.peers:
                room.empty_since = now
            room.gone = self._idle(room, now)
            others = list(room.peers)
        for peer in expired:
            await self._tell(room_id, others, PeerLeft(peer.peer_id, "closed"))
        if room.gone:
            log.info("room %s expired after %.0f s empty", room_id, self.settings.idle_room_seconds)

    @property
    def sweep_interval(self) -> float:
        shortest = min(self.settings.resume_grace_seconds or 1.0, self.settings.idle_room_seconds)
        return min(1.0, max(0.05, shortest / 4))

    async def _sweep_forever(self) -> None:
        outage = False  # one warning per database outage, not one traceback per sweep
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep(time.time())
            except DatabaseUnavailable:
                if not outage:
                    log.warning("signaling sweep paused: the database is unreachable; retrying every %.2g s",
                                self.sweep_interval)
                outage = True
                continue
            except Exception:  # a failed sweep must not end sweeping
                log.exception("signaling sweep failed")
            if outage:
                log.info("signaling sweep resumed: the database is back")
                outage = False

    # ---- lifecycle and stats ------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RoomManager]:
        ice.check(self.settings)
        await self.backend.open()
        sweeper = asyncio.create_task(self._sweep_forever(), name="signaling-sweep")
        try:
            yield self
        finally:
            sweeper.cancel()
            await self.go_away()
            await self.backend.close()

    async def go_away(self, within: float = 5.0) -> None:
        """Close this instance's sockets with 1001: clients reconnect (elsewhere) and resume."""
        for member in list(self.members):
            member.go_away()
        deadline = time.monotonic() + within
        while self.members and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded wait for sockets to close
            await asyncio.sleep(0.02)

    def count_error(self, code: str) -> None:
        self.errors[code] += 1

    async def stats(self) -> dict[str, Any]:
        rooms, peers = await self.backend.counts()
        return {
            "rooms": rooms,
            "peers": peers,
            "connections": len(self.members),
            "messages_relayed": self.relayed,
            "errors": sum(self.errors.values()),
            "errors_by_code": dict(sorted(self.errors.items())),
        }
