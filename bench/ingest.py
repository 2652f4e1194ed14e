"""Ingest: memories per second through the batch endpoint, against the floor (binary COPY straight into
Postgres) and against one row per request. Every method starts from an empty memory table with the
product's indexes in place (the HNSW index is maintained on insert, as in production)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from bench import data, services
from bench.http_client import HttpConnection
from bench.queries import BENCH
from bench.stats import closed_loop

CUSTOMERS = 10
NUGGET = "memory {i}: prefers oat milk, asked about the autumn range, comes in on Saturdays"


@dataclass(frozen=True)
class IngestSize:
    rows: int
    batch: int  # items per batch request (a 1536-d item is ~17 KB of JSON; MAX_BODY_BYTES is 4 MiB)
    concurrency: tuple[int, ...]
    max_seconds: float


def count(url: str) -> int:
    with services.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM customer_memory").fetchone()
    return int(row[0]) if row else 0


def truncate(url: str) -> None:
    with services.connect(url, autocommit=True) as conn:
        conn.execute(BENCH["truncate_memories"])


def copy_floor(url: str, memories: data.Memories) -> dict[str, Any]:
    truncate(url)
    started = time.perf_counter()
    with services.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(BENCH["copy_memories"]) as copy:
            copy.set_types(["uuid", "text", "text", "vector", "text"])
            for row, owner in enumerate(memories.owner):
                copy.write_row((memories.customer_ids[owner], NUGGET.format(i=row), "text-embedding-3-small",
                                memories.vectors[row], None))
        conn.commit()
    seconds = time.perf_counter() - started
    rows = count(url)
    return {"method": "binary COPY (floor)", "concurrency": 1, "requests": 1, "rows": rows,
            "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}


async def through_api(url: str, app: services.App, memories: data.Memories, batch: int, concurrency: int,
                      max_seconds: float) -> dict[str, Any]:
    truncate(url)
    bodies: list[tuple[str, bytes]] = []
    for start in range(0, len(memories.owner), batch):
        rows = range(start, min(start + batch, len(memories.owner)))
        owner = memories.customer_ids[memories.owner[start]]
        items = [{"nugget": NUGGET.format(i=r), "embedding": data.json_floats(memories.vectors[r]),
                  "model_name": "text-embedding-3-small"} for r in rows]
        bodies.append((f"/customers/{owner}/memories", msgspec.json.encode({"items": items})))
    conns = [await HttpConnection("127.0.0.1", app.port, services.TOKEN).open() for _ in range(concurrency)]
    requests = [conns[0].request_bytes("POST", path, body) for path, body in bodies]

    async def call(worker: int, item: int) -> None:
        status, body = await conns[worker].send(requests[item])
        if status != 200:
            raise RuntimeError(f"POST memories answered {status}: {body[:300]!r}")

    try:
        run = await closed_loop(call, concurrency=concurrency, items=len(requests), max_count=len(requests),
                                max_seconds=max_seconds, min_count=min(len(requests), 2 * concurrency))
    finally:
        for conn in conns:
            await conn.close()
    rows = count(url)
    summary = run.summary()
    label = f"POST batch of {batch}" if batch > 1 else "POST one row per request"
    return {"method": label, "concurrency": concurrency, "requests": run.count, "rows": rows,
            "seconds": summary["seconds"], "rows_per_s": round(rows / run.seconds, 1),
            "request_p50_ms": summary["p50_ms"], "request_p99_ms": summary["p99_ms"]}


def memories_for(rows: int) -> data.Memories:
    """Rows in customer order, so a batch belongs to one customer (as the endpoint requires)."""
    per = max(1, rows // CUSTOMERS)
    return data.memories(CUSTOMERS, per, seed=13)


async def run(pg: services.Postgres, size: IngestSize, logs: Path, progress: Any) -> dict[str, Any]:
    memories = memories_for(size.rows)
    name = "bench_ingest"
    url = pg.create(name)
    try:
        with services.connect(url) as conn, conn.cursor() as cur:
            with cur.copy(BENCH["copy_customers"]) as copy:
                copy.set_types(["uuid", "text", "text", "bool"])
                for i, cid in enumerate(memories.customer_ids):
                    copy.write_row((cid, f"crm-{i}", f"Customer {i}", True))
            conn.commit()
        results = [copy_floor(url, memories)]
        progress(f"ingest: COPY {results[-1]['rows_per_s']:.0f} rows/s")
        with services.app(url, logs, name="app-ingest") as app:
            for batch in (size.batch, 1):
                for concurrency in size.concurrency:
                    result = await through_api(url, app, memories, batch, concurrency, size.max_seconds)
                    results.append(result)
                    progress(f"ingest: {result['method']} c={concurrency}: {result['rows_per_s']:.0f} rows/s")
    finally:
        pg.drop(name)
    floor = results[0]["rows_per_s"]
    best_batch = max(r["rows_per_s"] for r in results if r["method"].startswith("POST batch"))
    best_single = max(r["rows_per_s"] for r in results if r["method"].startswith("POST one"))
    return {"rows": len(memories.owner), "batch": size.batch, "methods": results,
            "ratios": {"batch_over_copy": round(best_batch / floor, 3), "single_over_copy": round(best_single / floor, 3),
                       "batch_over_single": round(best_batch / best_single, 1)}}
