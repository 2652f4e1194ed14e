"""Rooms and inboxes in Postgres, shared by every app instance behind one load balancer.

The same interface as `MemoryBackend` (backend.py): the room manager and the endpoint do not know which
backend runs. docs/signaling.md ("Scale-out") describes the design; in short:

- Rooms: a row per room with its `RoomRecord` as JSON. `edit_room` is `SELECT ... FOR UPDATE`, saved by an
  `UPDATE` (or a `DELETE` when marked gone) in the same transaction; `create_room` counts rooms under an
  advisory lock, so MAX_ROOMS holds across instances. Every save NOTIFYs the rooms channel; each instance
  caches room snapshots and drops one on that notification, so relaying between two sockets on one
  instance makes no round trip at all (and keeps working while the database is away).
- Delivery: an inbox row per peer records which instance its socket is attached to. A frame for a socket
  on this instance is handed over directly; any other goes through the `signaling_send` function (one
  round trip), which NOTIFYs the target instance's channel: inline when the payload is under NOTIFY's
  8000-byte limit, else stored in `signaling_frames` and notified by id, then read and deleted by the
  receiver. A peer with no socket, or on an instance whose listener is not connected right now (a database
  restart), gets its frames stored instead; they are flushed in order when a socket attaches or that
  instance listens again. Frames to one address keep their order: one sender awaits each send, NOTIFYs
  arrive in commit order, and one task handles them in turn.
- Liveness: each instance beats a heartbeat on its listening connection. Peers whose socket is on an
  instance silent past PING_TIMEOUT_SECONDS are marked away, as if their socket had dropped: they can
  resume on another instance within RESUME_GRACE_SECONDS, and are otherwise reported as left by the
  manager's sweep (`peer-left`, reason `closed`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from frontdesk.db import RECONNECT_ATTEMPT_SECONDS, Params, Row, Session, translate
from frontdesk.errors import ApiError
from frontdesk.settings import Settings
from frontdesk.signaling.backend import PeerRecord, RoomRecord, Sink, address
from frontdesk.signaling.listener import Connection, Listener

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "frontdesk_signaling_"
ROOMS_CHANNEL = "frontdesk_signaling_rooms"
# As MemoryBackend: what may wait for a peer that has no socket right now.
MAX_WAITING_FRAMES = 256
MAX_WAITING_BYTES = 1024 * 1024
# Orphans (frames and inboxes of rooms that are gone, instances long dead) are deleted this often.
CLEANUP_INTERVAL = 30.0

# What a database outage raises through frontdesk.db (translated) or from a connection of our own.
DATABASE_ERRORS = (ApiError, psycopg.Error, PoolTimeout, OSError)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RoomRecord)
# The transaction of the edit_room block being run by this task, so that open_inbox/close_inbox called
# inside it (as the manager does) commit or roll back with the room.
_EDIT: ContextVar[tuple[PostgresBackend, Session] | None] = ContextVar("signaling_edit", default=None)


def channel_of(instance_id: str) -> str:
    return CHANNEL_PREFIX + instance_id


def _connection_id(sink: Sink) -> str | None:
    """The socket's id, as the room record names it (`PeerRecord.connection`)."""
    value = getattr(sink, "id", None)
    return value if isinstance(value, str) else None


@dataclass(eq=False)
class _Attached:
    """A socket on this instance attached to an inbox."""

    sink: Sink
    attachment: str  # this attach's id, as the inbox row records it
    connection: str | None
    # Frames that arrive while the attach is being recorded; None once it is (frames then go straight on).
    pending: list[str] | None = field(default_factory=list)
    since: float = 0.0  # monotonic, when the attach was recorded


@dataclass
class RelayCounters:
    notified: int = 0  # frames sent to another instance's listener
    large: int = 0  # ... of which through the frames table (payload over NOTIFY's limit)
    stored: int = 0  # frames stored to wait for a socket
    received: int = 0  # frames received from another instance
    refused: int = 0  # sends refused: no inbox, or too much waiting


class PostgresBackend:
    """Signaling state in Postgres; one per app (kept by its RoomManager), never global."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_waiting_frames: int = MAX_WAITING_FRAMES,
        max_waiting_bytes: int = MAX_WAITING_BYTES,
    ) -> None:
        if settings.database_url is None:
            raise ValueError("SIGNALING_BACKEND=postgres needs a database URL")
        self.settings = settings
        self.instance_id = secrets.token_hex(8)
        self.channel = channel_of(self.instance_id)
        self.liveness_timeout = settings.ping_timeout_seconds
        self.interval = min(10.0, max(0.05, self.liveness_timeout / 3))
        self.max_waiting_frames = max_waiting_frames
        self.max_waiting_bytes = max_waiting_bytes
        # A pool of its own, so that slow data API queries never hold up the handshake. Autocommit: a send
        # is one statement and one round trip; several statements that belong together run in
        # `_transaction()`. Each use is short: half the app pool's size is plenty.
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            settings.database_url, min_size=1, max_size=max(2, settings.pool_max_size // 2),
            timeout=settings.pool_timeout, open=False, configure=_configure,
            check=AsyncConnectionPool.check_connection, reconnect_timeout=RECONNECT_ATTEMPT_SECONDS,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(settings.pool_timeout))},
            name="frontdesk-signaling",
        )
        self.listener = Listener(
            settings.database_url, [self.channel, ROOMS_CHANNEL], interval=self.interval,
            on_connect=self._listening, on_notify=self._notified, beat=self._beat,
            on_disconnect=self._distrust, connect_timeout=max(1, round(settings.pool_timeout)),
        )
        self.counters = RelayCounters()
        # Set by the app: seconds from NOTIFY sent to frame delivered, for each cross-instance frame.
        self.lag_observer: Callable[[float], None] | None = None
        # Set by the app: sockets here whose peers other instances no longer route to us (we were taken for
        # dead, e.g. cut off from the database past the liveness timeout). They should reconnect and resume.
        self.on_orphaned: Callable[[list[Sink]], None] | None = None
        self._local: dict[str, _Attached] = {}
        self._cache: dict[str, RoomRecord] = {}
        self._versions: dict[str, int] = {}
        self._epoch = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._suspects: set[tuple[str, str]] = set()

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def open(self) -> None:
        await self.pool.open(wait=True)
        self._tasks = [
            asyncio.create_task(self.listener.run(), name=f"signaling-listener-{self.instance_id}"),
            asyncio.create_task(self._janitor(), name=f"signaling-janitor-{self.instance_id}"),
        ]
        try:
            async with asyncio.timeout(max(10.0, 3 * self.settings.pool_timeout)):
                await self.listener.connected.wait()  # routable before the first socket arrives
        except TimeoutError:
            await self.close()
            raise RuntimeError("the signaling listener could not connect to the database") from None
        log.info("signaling: instance %s listening on %s", self.instance_id, self.channel)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:  # others stop routing here at once, and treat anything still hosted here as away
            await self._execute("signaling_remove_instance", {"instance_id": self.instance_id})
        except DATABASE_ERRORS as exc:
            log.warning("signaling: could not deregister instance %s: %s", self.instance_id, _first_line(exc))
        await self.pool.close()
        self._local.clear()
        self._forget_all()

    # ---- the database edge --------------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, transaction: bool) -> AsyncIterator[Session]:
        """A pooled connection (in a transaction, or autocommit), driver errors translated as in db.py."""
        try:
            async with self.pool.connection() as conn:
                if transaction:
                    async with conn.transaction():
                        yield Session(conn)
                else:
                    yield Session(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            translated = translate(exc)
            if translated is None:
                raise
            raise translated from exc

    def _transaction(self) -> AbstractAsyncContextManager[Session]:
        return self._connection(transaction=True)

    async def _fetch_one(self, name: str, params: Params = None) -> Row | None:
        async with self._connection(transaction=False) as s:
            return await s.fetch_one(name, params)

    async def _fetch_all(self, name: str, params: Params = None) -> list[Row]:
        async with self._connection(transaction=False) as s:
            return await s.fetch_all(name, params)

    async def _execute(self, name: str, params: Params = None) -> int:
        async with self._connection(transaction=False) as s:
            return await s.execute(name, params)

    # ---- rooms --------------------------------------------------------------------------------------

    async def create_room(self, room: RoomRecord, max_rooms: int) -> bool:
        async with self._transaction() as s:
            await s.execute("signaling_lock_room_count")
            counted = await s.fetch_one("signaling_count_rooms")
            if counted is not None and counted["rooms"] >= max_rooms:
                return False
            await s.execute("signaling_insert_room", _room_params(room))
            await self._record_hosts(s, room.room_id, {}, room.peers)
            await self._announce(s, room.room_id)
        return True

    @asynccontextmanager
    async def _edit(self, room_id: str) -> AsyncIterator[RoomRecord | None]:
        async with self._transaction() as s:
            row = await s.fetch_one("signaling_lock_room", {"room_id": room_id})
            if row is None:
                yield None
                return
            draft = _decoder.decode(row["record"])
            before = {peer.peer_id: peer.connection for peer in draft.peers}
            token = _EDIT.set((self, s))
            try:
                yield draft
            finally:
                _EDIT.reset(token)
            if draft.gone:
                await s.execute("signaling_delete_room", {"room_id": room_id})
            else:
                await s.execute("signaling_update_room", _room_params(draft))
                await self._record_hosts(s, room_id, before, draft.peers)
            await self._announce(s, room_id)
        self._forget(room_id)

    def edit_room(self, room_id: str) -> AbstractAsyncContextManager[RoomRecord | None]:
        return self._edit(room_id)

    async def get_room(self, room_id: str) -> RoomRecord | None:
        if (cached := self._cache.get(room_id)) is not None:
            return cached
        version = (self._epoch, self._versions.get(room_id, 0))
        row = await self._fetch_one("signaling_get_room", {"room_id": room_id})
        if row is None:
            return None
        room = _decoder.decode(row["record"])
        # Cached only if no invalidation arrived while the row was read (it could be older than that), and
        # while the listener is connected (else invalidations could be missed).
        if self.listener.connected.is_set() and version == (self._epoch, self._versions.get(room_id, 0)):
            self._cache[room_id] = room
        return room

    async def room_ids(self) -> list[str]:
        return [row["room_id"] for row in await self._fetch_all("signaling_room_ids")]

    async def counts(self) -> tuple[int, int]:
        row = await self._fetch_one("signaling_counts")
        return (int(row["rooms"]), int(row["peers"])) if row is not None else (0, 0)

    async def _record_hosts(
        self, s: Session, room_id: str, before: dict[str, str | None], peers: list[PeerRecord]
    ) -> None:
        """Keep the inbox rows' host columns in step with the record, in its transaction: whenever a record
        names a socket, some row says which instance holds it, even if that instance dies a moment later."""
        for peer in peers:
            was = before.get(peer.peer_id)
            if peer.connection is not None and peer.connection != was:
                # Only the instance holding the socket sets a peer's connection (join and resume run there).
                await s.execute("signaling_host", {"address": address(room_id, peer.peer_id),
                                                   "instance_id": self.instance_id, "connection": peer.connection})
            elif peer.connection is None and was is not None:
                await s.execute("signaling_unhost", {"address": address(room_id, peer.peer_id), "connection": was})

    async def _announce(self, s: Session, room_id: str) -> None:
        await s.execute("signaling_notify", {"channel": ROOMS_CHANNEL, "payload": f"i|{room_id}"})

    def _forget(self, room_id: str) -> None:
        self._cache.pop(room_id, None)
        self._versions[room_id] = self._versions.get(room_id, 0) + 1
        if len(self._versions) > max(10_000, 4 * self.settings.max_rooms):
            self._forget_all()

    def _forget_all(self) -> None:
        self._cache.clear()
        self._versions.clear()
        self._epoch += 1

    def _distrust(self) -> None:
        """The listener is down: cached rooms stay readable (while the database is away nobody can change
        them, and a relay to a socket here needs nothing else), but nothing new is cached until it is back,
        when the cache is dropped."""
        self._epoch += 1

    # ---- inboxes ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Session]:
        """The running edit_room transaction if this task is inside one, else a transaction of its own."""
        current = _EDIT.get()
        if current is not None and current[0] is self:
            yield current[1]
            return
        async with self._transaction() as s:
            yield s

    async def open_inbox(self, address: str) -> None:
        room_id, peer_id = address.split("/", 1)
        async with self._session() as s:
            await s.execute("signaling_open_inbox", {"address": address, "room_id": room_id, "peer_id": peer_id})

    async def close_inbox(self, address: str) -> None:
        self._local.pop(address, None)
        async with self._session() as s:
            await s.execute("signaling_lock_address", {"address": address})
            row = await s.fetch_one("signaling_close_inbox", {"address": address})
            await s.execute("signaling_drop_frames", {"address": address})
            if row is not None and row["attached_instance"] not in (None, self.instance_id):
                await self._tell(s, row["attached_instance"], f"c|{address}|{row['attachment']}")

    async def attach(self, address: str, sink: Sink) -> bool:
        attached = _Attached(sink, secrets.token_hex(8), _connection_id(sink))
        previous = self._local.get(address)
        self._local[address] = attached  # from now on, frames for the address wait in attached.pending
        try:
            async with self._transaction() as s:
                await s.execute("signaling_lock_address", {"address": address})
                row = await s.fetch_one("signaling_attach", {
                    "address": address, "instance_id": self.instance_id, "attachment": attached.attachment,
                })
                waiting = await s.fetch_all("signaling_take_frames", {"address": address}) if row else []
                was = row["previous_instance"] if row else None
                if was is not None and was != self.instance_id:
                    assert row is not None
                    await self._tell(s, was, f"r|{address}|{row['previous_attachment']}")
        except BaseException:
            if self._local.get(address) is attached:
                if previous is not None:
                    self._local[address] = previous
                else:
                    del self._local[address]
            raise
        if row is None:  # no such inbox
            if self._local.get(address) is attached:
                del self._local[address]
            return False
        if previous is not None and previous.sink is not sink:
            previous.sink.replaced()
        for waited in sorted(waiting, key=lambda r: r["id"]):
            sink.deliver(waited["frame"])
        for frame in attached.pending or ():
            sink.deliver(frame)
        attached.pending = None
        attached.since = time.monotonic()
        return True

    async def detach(self, address: str, sink: Sink) -> None:
        attached = self._local.get(address)
        if attached is None or attached.sink is not sink:
            return
        del self._local[address]
        await self._execute("signaling_detach", {"address": address, "attachment": attached.attachment})

    async def send(self, address: str, frame: str) -> bool:
        attached = self._local.get(address)
        if attached is not None:  # the socket is here: no round trip
            _hand_over(attached, frame)
            return True
        return await self._route(address, frame)

    async def _route(self, address: str, frame: str, not_here: str | None = None) -> bool:
        row = await self._fetch_one("signaling_send", {
            "address": address, "frame": frame, "sent_at": time.time(), "not_here": not_here,
            "max_frames": self.max_waiting_frames, "max_bytes": self.max_waiting_bytes,
        })
        outcome = row["outcome"] if row is not None else "no_inbox"
        if outcome in ("notified", "notified_by_id"):
            self.counters.notified += 1
            self.counters.large += outcome == "notified_by_id"
            return True
        if outcome == "waiting":
            self.counters.stored += 1
            return True
        self.counters.refused += 1
        return False

    async def _tell(self, s: Session, instance_id: str, payload: str) -> None:
        await s.execute("signaling_notify", {"channel": channel_of(instance_id), "payload": payload})

    # ---- the listening connection -------------------------------------------------------------------

    async def _listening(self, conn: Connection) -> None:
        """(Re)connected: record the listening session, take the frames that waited for it, drop the cache."""
        silent_for = time.monotonic() - self.listener.last_beat
        s = Session(conn)
        async with conn.transaction():
            await s.execute("signaling_lock_instance", {"instance_id": self.instance_id})
            await s.execute("signaling_register_instance", {"instance_id": self.instance_id})
            waiting = await s.fetch_all("signaling_take_instance_frames", {"instance_id": self.instance_id})
        self._forget_all()
        for row in sorted(waiting, key=lambda r: r["id"]):
            await self._arrived(row["address"], row["frame"])
        if self.listener.connections and silent_for > self.liveness_timeout:
            log.warning("signaling: instance %s was cut off for %.0f s; checking which of its sockets others "
                        "still route to", self.instance_id, silent_for)
            await self.reconcile()

    async def _beat(self, conn: Connection) -> None:
        if await Session(conn).execute("signaling_heartbeat", {"instance_id": self.instance_id}) == 0:
            # Our row is gone: another instance took us for dead long ago. Register again, then see which
            # sockets here the others no longer route to.
            await self._listening(conn)
            await self.reconcile()

    async def _notified(self, payload: str) -> None:
        kind, _, rest = payload.partition("|")
        if kind == "f":  # f|sent_at|address|frame
            sent_at, address, frame = rest.split("|", 2)
            self._observe_lag(sent_at)
            await self._arrived(address, frame)
        elif kind == "k":  # k|sent_at|frame id: a frame too large for a NOTIFY
            sent_at, frame_id = rest.split("|", 1)
            row = await self._fetch_one("signaling_take_frame", {"id": int(frame_id)})
            if row is not None:  # else a newer attach of its inbox took it already
                self._observe_lag(sent_at)
                await self._arrived(row["address"], row["frame"])
        elif kind in ("r", "c"):  # r|address|attachment: replaced elsewhere; c|...: inbox closed elsewhere
            address, attachment = rest.rsplit("|", 1)
            attached = self._local.get(address)
            if attached is not None and attached.attachment == attachment:
                del self._local[address]
                if kind == "r":
                    attached.sink.replaced()
        elif kind == "i":  # i|room_id: the room changed
            self._forget(rest)
        else:
            log.warning("signaling: unknown notification kind %r", kind[:8])

    async def _arrived(self, address: str, frame: str) -> None:
        self.counters.received += 1
        attached = self._local.get(address)
        if attached is not None:
            _hand_over(attached, frame)
        else:  # the socket left this instance meanwhile: the frame waits for the inbox's next attach
            await self._route(address, frame, not_here=self.instance_id)

    def _observe_lag(self, sent_at: str) -> None:
        if self.lag_observer is not None:
            self.lag_observer(max(0.0, time.time() - float(sent_at)))

    # ---- liveness and cleanup -----------------------------------------------------------------------

    async def _janitor(self) -> None:
        cleanup_every = max(1, round(CLEANUP_INTERVAL / self.interval))
        rounds = 0
        while True:
            await asyncio.sleep(self.interval)
            try:
                since = self.listener.connected_since
                # Only an instance that has listened for a whole liveness timeout judges others: after a
                # database restart every heartbeat is old, and the others need that long to beat again.
                if since is not None and time.monotonic() - since >= self.liveness_timeout:
                    await self.reap()
                await self.reconcile()
                rounds += 1
                if rounds % cleanup_every == 0:
                    await self.cleanup()
            except asyncio.CancelledError:
                raise
            except DATABASE_ERRORS as exc:  # the database is away: try again next round
                log.warning("signaling janitor: %s", _first_line(exc))
            except Exception:
                log.exception("signaling janitor failed; trying again next round")

    async def reap(self) -> int:
        """Mark away the peers whose socket is on an instance silent past the liveness timeout."""
        rows = await self._fetch_all("signaling_stale_hosts", {
            "instance_id": self.instance_id, "timeout": self.liveness_timeout,
        })
        by_room: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_room[row["room_id"]].append(row)
        marked = 0
        for room_id, lost in by_room.items():
            marked += await self._mark_away(room_id, lost)
        if marked:
            log.info("signaling: %d peers on silent instances marked away", marked)
        return marked

    async def reconcile(self) -> None:
        """Make this instance's sockets and the shared rows agree again after something was lost."""
        started = time.monotonic()
        rows = await self._fetch_all("signaling_attachments_of", {"instance_id": self.instance_id})
        recorded = {(row["address"], row["attachment"]) for row in rows}
        # Sockets here that the rows no longer route to: a 'replaced'/'closed' notification lost while the
        # listener was away, or our peers marked away while we were cut off. A mismatch must be seen twice
        # (a notification on its way settles it in between) before the socket is acted on.
        suspects = {(addr, att.attachment) for addr, att in self._local.items()
                    if att.pending is None and att.since < started and (addr, att.attachment) not in recorded}
        stranded = [(addr, self._local[addr]) for addr, attachment in suspects & self._suspects
                    if addr in self._local and self._local[addr].attachment == attachment]
        self._suspects = suspects - {(addr, att.attachment) for addr, att in stranded}
        if stranded:
            await self._strand(stranded)
        # Rows that route here without a socket here (a detach lost to a database error): let frames wait.
        for row in rows:
            here = self._local.get(row["address"])
            if here is None or (here.pending is None and here.attachment != row["attachment"]):
                await self._execute("signaling_detach", {"address": row["address"], "attachment": row["attachment"]})
        # Peers the records place on sockets here that are gone (a disconnect lost to a database error).
        live = {att.connection for att in self._local.values()}
        hosted = await self._fetch_all("signaling_hosts_of", {
            "instance_id": self.instance_id, "settle": self.liveness_timeout,
        })
        lost: dict[str, list[Row]] = defaultdict(list)
        for row in hosted:
            if row["host_connection"] not in live:
                lost[row["room_id"]].append({**row, "silent_for": 0.0})
        for room_id, rows_lost in lost.items():
            await self._mark_away(room_id, rows_lost)

    async def _strand(self, stranded: list[tuple[str, _Attached]]) -> None:
        """Sockets no longer routed to: replaced if their inbox is attached elsewhere now, else asked to
        reconnect (they resume, or join afresh if their peer was removed meanwhile)."""
        rows = await self._fetch_all("signaling_inbox_attachments", {"addresses": [addr for addr, _ in stranded]})
        elsewhere = {row["address"] for row in rows if row["attached_instance"] not in (None, self.instance_id)}
        reconnect = []
        for addr, att in stranded:
            if self._local.get(addr) is att:
                del self._local[addr]
            if addr in elsewhere:
                att.sink.replaced()
            else:
                reconnect.append(att.sink)
        log.warning("signaling: %d sockets here were no longer routed to; %d asked to reconnect",
                    len(stranded), len(reconnect))
        if reconnect and self.on_orphaned is not None:
            self.on_orphaned(reconnect)

    async def _mark_away(self, room_id: str, lost: list[Row]) -> int:
        now = time.time()
        marked = 0
        async with self.edit_room(room_id) as room:
            if room is None:
                return 0  # its inboxes are orphans now; cleanup deletes them
            for row in lost:
                peer = room.peer(row["peer_id"])
                if peer is not None and peer.connection == row["host_connection"]:
                    peer.connection, peer.away_since = None, now - row["silent_for"]
                    marked += 1
                else:  # the record moved on already; the row should not name that socket any more
                    async with self._session() as s:
                        await s.execute("signaling_unhost", {
                            "address": address(room_id, row["peer_id"]), "connection": row["host_connection"],
                        })
        return marked

    async def cleanup(self) -> None:
        """Delete orphans: frames without an inbox, inboxes without a room, instances long dead."""
        age = max(60.0, 2 * (self.settings.resume_grace_seconds + self.liveness_timeout))
        async with self._transaction() as s:
            await s.execute("signaling_delete_orphan_inboxes", {"age": age})
            await s.execute("signaling_delete_orphan_frames", {"age": age})
            await s.execute("signaling_delete_dead_instances", {"age": max(age, 10 * self.liveness_timeout)})

    # ---- for metrics --------------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self.listener.connected.is_set()

    def local_sockets(self) -> int:
        return len(self._local)

    def describe(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "listening": self.listening, "attached_here": len(self._local),
                "cached_rooms": len(self._cache), **self.counters.__dict__}


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    await Session(conn).execute("signaling_session_settings")


def _hand_over(attached: _Attached, frame: str) -> None:
    if attached.pending is not None:
        attached.pending.append(frame)
    else:
        attached.sink.deliver(frame)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _room_params(room: RoomRecord) -> dict[str, Any]:
    return {"room_id": room.room_id, "record": _encoder.encode(room).decode(), "peer_count": len(room.peers)}
