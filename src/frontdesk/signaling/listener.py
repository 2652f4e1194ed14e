"""A LISTEN connection that keeps itself alive: dedicated, autocommit, never from a pool.

It listens on its channels, hands every notification to `on_notify` in arrival order (which is commit
order), beats a heartbeat between batches (which also proves the connection works), and when the
connection breaks (a database restart, a network cut) it reconnects with backoff, LISTENs again and calls
`on_connect` before any new notification is handled, so the owner can catch up on what it missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from frontdesk.queries import QUERIES

log = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[Any]
MIN_BACKOFF = 0.05


class Listener:
    def __init__(
        self,
        url: str,
        channels: list[str],
        *,
        interval: float,
        on_connect: Callable[[Connection], Awaitable[None]],
        on_notify: Callable[[str], Awaitable[None]],
        beat: Callable[[Connection], Awaitable[None]],
        on_disconnect: Callable[[], None],
        connect_timeout: int = 5,
        max_backoff: float = 2.0,
    ) -> None:
        self.url = url
        self.channels = channels
        self.interval = interval
        self.on_connect = on_connect
        self.on_notify = on_notify
        self.beat = beat
        self.on_disconnect = on_disconnect
        self.connect_timeout = connect_timeout
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.connected_since: float | None = None  # monotonic
        self.last_beat = time.monotonic()
        self.connections = 0  # successful connects so far

    async def run(self) -> None:
        """Forever (until cancelled): connect, listen, deliver, beat; on any connection failure start over."""
        backoff = MIN_BACKOFF
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if self.connected.is_set():  # once per outage, not once per attempt
                    log.warning("signaling listener lost its database connection (%s); reconnecting",
                                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            except Exception:
                log.exception("signaling listener failed; reconnecting")
            if self.connected.is_set():
                self.connected.clear()
                self.connected_since = None
                self.on_disconnect()
                backoff = MIN_BACKOFF
            await asyncio.sleep(backoff)
            backoff = min(self.max_backoff, backoff * 2)

    async def _session(self) -> None:
        keepalive = max(1, round(self.interval))
        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=self.connect_timeout,
            keepalives=1, keepalives_idle=keepalive, keepalives_interval=keepalive, keepalives_count=3,
            application_name="frontdesk-signaling-listener",
        )
        async with conn:
            template = sql.SQL(QUERIES["signaling_listen"])  # our own file, not input
            for channel in self.channels:
                await conn.execute(template.format(channel=sql.Identifier(channel)))
            await self.on_connect(conn)
            if self.connections:
                log.info("signaling listener connected again")
            self.connected_since = time.monotonic()
            self.last_beat = self.connected_since
            self.connected.set()
            self.connections += 1
            while True:
                async for notify in conn.notifies(timeout=self.interval):
                    try:
                        await self.on_notify(notify.payload)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # one bad notification must not stop the others
                        log.exception("signaling: handling a notification failed")
                async with asyncio.timeout(max(2.0, 2 * self.interval)):
                    await self.beat(conn)
                self.last_beat = time.monotonic()
