"""Latency statistics and the closed-loop runner every bench uses, so all numbers are computed one way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


@dataclass
class Run:
    """`count` calls in `seconds` of wall time at `concurrency`; latencies in milliseconds."""

    concurrency: int
    count: int
    seconds: float
    latencies_ms: list[float]

    def summary(self) -> dict[str, float | int]:
        return {
            "concurrency": self.concurrency,
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "qps": round(self.count / self.seconds, 1) if self.seconds > 0 else float("nan"),
            "p50_ms": round(percentile(self.latencies_ms, 50), 3),
            "p99_ms": round(percentile(self.latencies_ms, 99), 3),
            "mean_ms": round(float(np.mean(self.latencies_ms)), 3) if self.latencies_ms else float("nan"),
        }


async def closed_loop(
    call: Callable[[int, int], Awaitable[None]],
    *,
    concurrency: int,
    items: int,
    max_count: int,
    max_seconds: float,
    min_count: int = 1,
) -> Run:
    """`concurrency` workers call `call(worker, item)` back to back over items 0..items-1 (cycling) until
    `max_count` calls or `max_seconds` have passed (but at least `min_count` calls): bounded both ways."""
    latencies: list[float] = []
    next_item = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(index: int) -> None:
        nonlocal next_item
        while next_item < max_count and (next_item < min_count or time.perf_counter() < deadline):
            item = next_item
            next_item += 1
            began = time.perf_counter()
            await call(index, item % items)
            latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return Run(concurrency, len(latencies), time.perf_counter() - start, latencies)


def merge(runs: list[Run]) -> Run:
    """Rounds of one method, as one run (their latencies pooled, their wall times added)."""
    return Run(
        runs[0].concurrency,
        sum(r.count for r in runs),
        sum(r.seconds for r in runs),
        [x for r in runs for x in r.latencies_ms],
    )
