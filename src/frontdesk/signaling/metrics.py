"""Signaling in /metrics: rooms and peers (every instance), sockets, relayed messages and errors (this
instance), and for the Postgres backend the cross-instance frames and their relay lag.

Rooms and peers come from the backend (a query over Postgres), so they are read every REFRESH seconds
by a task rather than on each scrape (a scrape must not wait on the database).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from frontdesk.observability import Metrics
from frontdesk.signaling.postgres import DATABASE_ERRORS, PostgresBackend
from frontdesk.signaling.rooms import RoomManager

log = logging.getLogger(__name__)

REFRESH = 1.0
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Counters(Collector):
    """Totals kept by the manager and backend, exposed as Prometheus counters when scraped."""

    def __init__(self, manager: RoomManager) -> None:
        self.manager = manager

    def collect(self) -> Iterable[Metric]:
        relayed = CounterMetricFamily("frontdesk_signaling_messages_relayed",
                                      "Offers, answers and candidates relayed by this instance")
        relayed.add_metric([], self.manager.relayed)
        yield relayed
        errors = CounterMetricFamily("frontdesk_signaling_errors", "Signaling error frames (and refused origins) "
                                     "by code, this instance", labels=["code"])
        for code, count in sorted(self.manager.errors.items()):
            errors.add_metric([code], count)
        yield errors
        backend = self.manager.backend
        if isinstance(backend, PostgresBackend):
            frames = CounterMetricFamily("frontdesk_signaling_cross_instance_frames",
                                         "Frames between instances by outcome: notified (sent to another instance; "
                                         "large: of those, through the frames table), stored (waiting for a "
                                         "socket), received, refused", labels=["outcome"])
            for outcome, count in backend.counters.__dict__.items():
                frames.add_metric([outcome], count)
            yield frames


class SignalingMetrics:
    def __init__(self, metrics: Metrics, manager: RoomManager) -> None:
        self.manager = manager
        self.rooms = 0
        self.peers = 0
        metrics.gauge("frontdesk_signaling_rooms", "Signaling rooms (every instance)",
                      lambda: [({}, float(self.rooms))])
        metrics.gauge("frontdesk_signaling_peers", "Peers in signaling rooms, away ones included (every instance)",
                      lambda: [({}, float(self.peers))])
        metrics.gauge("frontdesk_signaling_connections", "Open signaling sockets on this instance",
                      lambda: [({}, float(len(manager.members)))])
        metrics.registry.register(_Counters(manager))
        backend = manager.backend
        if isinstance(backend, PostgresBackend):
            lag = Histogram("frontdesk_signaling_relay_lag_seconds",
                            "Seconds from a frame's NOTIFY on one instance to its delivery on another "
                            "(wall clocks of two instances: keep them in NTP sync)",
                            registry=metrics.registry, buckets=LAG_BUCKETS)
            backend.lag_observer = lag.observe
            metrics.gauge("frontdesk_signaling_listener_up",
                          "1 while this instance's LISTEN connection to Postgres is up",
                          lambda: [({}, 1.0 if backend.listening else 0.0)])

    async def refresh(self) -> None:
        self.rooms, self.peers = await self.manager.backend.counts()

    async def refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except DATABASE_ERRORS as exc:  # the database is away: the last numbers stay
                log.debug("signaling metrics: %s", exc)
            await asyncio.sleep(REFRESH)
