"""Where room state lives and how frames reach a peer: a small interface, and the in-process backend.

The room manager (rooms.py) holds every rule; a backend only stores `RoomRecord`s and moves frames.
Two kinds of operation, chosen so that a Postgres backend (issue 8) can implement them without the
manager changing:

- Room state: `create_room`, `edit_room` (an exclusive read-modify-write, i.e. `SELECT ... FOR UPDATE`
  and an `UPDATE` on commit; a record marked `gone` is deleted), `get_room` (a snapshot, possibly cached),
  `room_ids`, `counts`. Records are msgspec Structs, so they serialise to JSONB as they are.
- Delivery by address (`room/peer`): an inbox lives as long as the peer (`open_inbox`/`close_inbox`,
  called inside the edit that adds or removes the peer); a socket `attach`es to it and gets every frame
  in order. While no socket is attached (the peer is reconnecting) frames wait, bounded, and are flushed
  to the next socket; attaching a new socket tells the old one it was `replaced`. Over Postgres the
  attach is recorded with the instance id, a frame is a NOTIFY to that instance (or a row, when large or
  when no socket is attached), and `replaced` is a NOTIFY to the old socket's instance.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import msgspec

from frontdesk.signaling.protocol import Role


class PeerRecord(msgspec.Struct, kw_only=True):
    peer_id: str
    role: Role
    resume_hash: str  # sha256 of the resume token: the token itself is never stored
    connection: str | None  # the attached socket's id; None while the peer is away (resume grace)
    away_since: float | None = None  # wall-clock seconds (instances compare it)


class RoomRecord(msgspec.Struct, kw_only=True):
    room_id: str
    key: str  # the camera join key: kept, because every viewer that joins is shown it
    created_at: float
    empty_since: float | None
    peers: list[PeerRecord]
    gone: bool = False  # set inside edit_room to delete the room when the edit is saved

    def peer(self, peer_id: str) -> PeerRecord | None:
        return next((peer for peer in self.peers if peer.peer_id == peer_id), None)

    def streamer(self) -> PeerRecord | None:
        return next((peer for peer in self.peers if peer.role == "streamer"), None)

    def viewer_count(self) -> int:
        return sum(peer.role == "viewer" for peer in self.peers)


def address(room_id: str, peer_id: str) -> str:
    return f"{room_id}/{peer_id}"


class Sink(Protocol):
    """A socket's side of an inbox (the endpoint's Connection)."""

    def deliver(self, frame: str) -> None: ...

    def replaced(self) -> None: ...


class SignalingBackend(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create_room(self, room: RoomRecord, max_rooms: int) -> bool:
        """Store a new room; False when max_rooms rooms exist already."""
        ...

    def edit_room(self, room_id: str) -> AbstractAsyncContextManager[RoomRecord | None]:
        """The room (None if unknown), exclusively; changes are saved when the block exits cleanly."""
        ...

    async def get_room(self, room_id: str) -> RoomRecord | None:
        """A snapshot to read, never to change."""
        ...

    async def room_ids(self) -> list[str]: ...

    async def counts(self) -> tuple[int, int]:
        """(rooms, peers) across every instance."""
        ...

    async def open_inbox(self, address: str) -> None: ...

    async def close_inbox(self, address: str) -> None: ...

    async def attach(self, address: str, sink: Sink) -> bool:
        """Deliver the inbox to this sink, waiting frames first; False if the inbox is closed."""
        ...

    async def detach(self, address: str, sink: Sink) -> None:
        """Stop delivering to this sink, if it is still the attached one."""
        ...

    async def send(self, address: str, frame: str) -> bool:
        """Queue a frame for the peer, in order; False if it has no inbox or too many frames wait."""
        ...


class _Inbox:
    __slots__ = ("sink", "waiting", "waiting_bytes")

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self.waiting: deque[str] = deque()
        self.waiting_bytes = 0


class MemoryBackend:
    """Rooms and inboxes in this process: no round trips. One per app (kept on app.state), never global."""

    def __init__(self, max_waiting_frames: int = 256, max_waiting_bytes: int = 1024 * 1024) -> None:
        self.max_waiting_frames = max_waiting_frames
        self.max_waiting_bytes = max_waiting_bytes
        self._rooms: dict[str, RoomRecord] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._inboxes: dict[str, _Inbox] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        self._rooms.clear()
        self._locks.clear()
        self._inboxes.clear()

    async def create_room(self, room: RoomRecord, max_rooms: int) -> bool:
        if len(self._rooms) >= max_rooms:
            return False
        if room.room_id in self._rooms:
            raise ValueError(f"room {room.room_id} exists already")
        self._rooms[room.room_id] = _copy(room)
        return True

    @asynccontextmanager
    async def _edit(self, room_id: str) -> AsyncIterator[RoomRecord | None]:
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            stored = self._rooms.get(room_id)
            if stored is None:
                self._locks.pop(room_id, None)
                yield None
                return
            # Edit a copy, so that an error half way leaves the stored room as it was (like a rollback).
            draft = _copy(stored)
            yield draft
            if draft.gone:
                del self._rooms[room_id]
                self._locks.pop(room_id, None)
            else:
                self._rooms[room_id] = draft

    def edit_room(self, room_id: str) -> AbstractAsyncContextManager[RoomRecord | None]:
        return self._edit(room_id)

    async def get_room(self, room_id: str) -> RoomRecord | None:
        return self._rooms.get(room_id)

    async def room_ids(self) -> list[str]:
        return list(self._rooms)

    async def counts(self) -> tuple[int, int]:
        return len(self._rooms), sum(len(room.peers) for room in self._rooms.values())

    async def open_inbox(self, address: str) -> None:
        self._inboxes.setdefault(address, _Inbox())

    async def close_inbox(self, address: str) -> None:
        self._inboxes.pop(address, None)

    async def attach(self, address: str, sink: Sink) -> bool:
        inbox = self._inboxes.get(address)
        if inbox is None:
            return False
        previous, inbox.sink = inbox.sink, sink
        if previous is not None and previous is not sink:
            previous.replaced()
        while inbox.waiting:
            sink.deliver(inbox.waiting.popleft())
        inbox.waiting_bytes = 0
        return True

    async def detach(self, address: str, sink: Sink) -> None:
        inbox = self._inboxes.get(address)
        if inbox is not None and inbox.sink is sink:
            inbox.sink = None

    async def send(self, address: str, frame: str) -> bool:
        inbox = self._inboxes.get(address)
        if inbox is None:
            return False
        if inbox.sink is not None:
            inbox.sink.deliver(frame)
            return True
        if len(inbox.waiting) >= self.max_waiting_frames or inbox.waiting_bytes + len(frame) > self.max_waiting_bytes:
            return False
        inbox.waiting.append(frame)
        inbox.waiting_bytes += len(frame)
        return True


_room_encoder = msgspec.msgpack.Encoder()
_room_decoder = msgspec.msgpack.Decoder(RoomRecord)


def _copy(room: RoomRecord) -> RoomRecord:
    return _room_decoder.decode(_room_encoder.encode(room))
