"""Ingest: memories per second through the batch endpoint, against the floor (binary COPY straight into
Postgres) and against one row per request. Every method starts from an empty memory table with the
product's indexes in place (the HNSW index is maintained on insert, as in production)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import sql

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


async def copy_floor(url: str, memories: data.Memories, concurrency: int, index: bool = True) -> dict[str, Any]:
    """Binary COPY of every row, split over `concurrency` connections (one transaction each)."""
    truncate(url)
    if not index:
        with services.connect(url, autocommit=True) as conn:
            conn.execute(BENCH["drop_memory_index_ddl"])
    slices = [range(len(memories.owner))[i::concurrency] for i in range(concurrency)]

    async def stream(rows: range) -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await register_vector_async(conn)
            async with conn.cursor() as cur, cur.copy(BENCH["copy_memories"]) as copy:
                copy.set_types(["uuid", "text", "text", "vector", "text"])
                for row in rows:
                    await copy.write_row(
                        (
                            memories.customer_ids[memories.owner[row]],
                            NUGGET.format(i=row),
                            "text-embedding-3-small",
                            memories.vectors[row],
                            None,
                        )
                    )

    started = time.perf_counter()
    await asyncio.gather(*(stream(rows) for rows in slices))
    seconds = time.perf_counter() - started
    rows = count(url)
    if not index:
        with services.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL(BENCH["create_memory_index_ddl"]).format(  # type: ignore[arg-type]
                    m=sql.Literal(16), ef_construction=sql.Literal(64)
                )
            )
    label = "binary COPY (floor)" if index else "binary COPY, HNSW index dropped (bulk path, not the floor)"
    return {
        "method": label,
        "concurrency": concurrency,
        "requests": concurrency,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1),
    }


async def through_api(
    url: str, app: services.App, memories: data.Memories, batch: int, concurrency: int, max_seconds: float
) -> dict[str, Any]:
    truncate(url)
    bodies: list[tuple[str, bytes]] = []
    for start in range(0, len(memories.owner), batch):
        rows = range(start, min(start + batch, len(memories.owner)))
        owner = memories.customer_ids[memories.owner[start]]
        items = [
            {
                "nugget": NUGGET.format(i=r),
                "embedding": data.json_floats(memories.vectors[r]),
                "model_name": "text-embedding-3-small",
            }
            for r in rows
        ]
        bodies.append((f"/customers/{owner}/memories", msgspec.json.encode({"items": items})))
    conns = [await HttpConnection("127.0.0.1", app.port, services.TOKEN).open() for _ in range(concurrency)]
    requests = [conns[0].request_bytes("POST", path, body) for path, body in bodies]

    async def call(worker: int, item: int) -> None:
        status, body = await conns[worker].send(requests[item])
        if status != 200:
            raise RuntimeError(f"POST memories answered {status}: {body[:300]!r}")

    try:
        run = await closed_loop(
            call,
            concurrency=concurrency,
            items=len(requests),
            max_count=len(requests),
            max_seconds=max_seconds,
            min_count=min(len(requests), 2 * concurrency),
        )
    finally:
        for conn in conns:
            await conn.close()
    rows = count(url)
    summary = run.summary()
    label = f"POST batch of {batch}" if batch > 1 else "POST one row per request"
    return {
        "method": label,
        "concurrency": concurrency,
        "requests": run.count,
        "rows": rows,
        "seconds": summary["seconds"],
        "rows_per_s": round(rows / run.seconds, 1),
        "request_p50_ms": summary["p50_ms"],
        "request_p99_ms": summary["p99_ms"],
    }


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
        results = []
        for concurrency in size.concurrency:
            results.append(await copy_floor(url, memories, concurrency))
            progress(f"ingest: COPY c={concurrency}: {results[-1]['rows_per_s']:.0f} rows/s")
        results.append(await copy_floor(url, memories, 1, index=False))
        progress(f"ingest: COPY without the HNSW index: {results[-1]['rows_per_s']:.0f} rows/s")
        with services.app(url, logs, name="app-ingest") as app:
            for batch in (size.batch, 1):
                for concurrency in size.concurrency:
                    result = await through_api(url, app, memories, batch, concurrency, size.max_seconds)
                    results.append(result)
                    progress(f"ingest: {result['method']} c={concurrency}: {result['rows_per_s']:.0f} rows/s")
    finally:
        pg.drop(name)

    def rate(prefix: str, concurrency: int) -> float:
        return next(r["rows_per_s"] for r in results if r["method"].startswith(prefix) and r["concurrency"] == concurrency)

    ratios = {
        f"c{c}": {
            "batch_over_copy": round(rate("POST batch", c) / rate("binary COPY (floor)", c), 3),
            "single_over_copy": round(rate("POST one", c) / rate("binary COPY (floor)", c), 3),
            "batch_over_single": round(rate("POST batch", c) / rate("POST one", c), 1),
        }
        for c in size.concurrency
    }
    return {
        "rows": len(memories.owner),
        "batch": size.batch,
        "concurrency": list(size.concurrency),
        "methods": results,
        "ratios": ratios,
        "worst_batch_over_copy": min(r["batch_over_copy"] for r in ratios.values()),
    }
