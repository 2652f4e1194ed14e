"""Memory search with ?customer_id=: `customers` x `per_customer` memories at 1536-d. For the unfiltered
search, the filtered search as the product runs it (an exact scan of the customer's rows), and the
alternatives the product rejected (the HNSW index with the customer as a filter, with and without
pgvector's iterative scans): results returned, recall@10 against numpy's exact answer, and latency."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import sql

from bench import data, services
from bench.face_search import PRODUCT_EF_SEARCH
from bench.http_client import HttpConnection
from bench.queries import BENCH, QUERIES
from bench.stats import Run, closed_loop, merge

LIMIT = 10
UNFILTERED_FLOOR = "unfiltered: product SQL (HNSW, iterative scan, sequential scans off)"
UNFILTERED_BEFORE = "rejected: unfiltered with sequential scans allowed (the product before the fix: a full scan)"
ROUNDS = 3


@dataclass(frozen=True)
class MemorySize:
    customers: int
    per_customer: int
    queries: int
    max_seconds: float


def load(url: str, memories: data.Memories) -> dict[str, float]:
    started = time.perf_counter()
    with services.connect(url, autocommit=True) as conn:
        conn.execute(BENCH["drop_memory_index_ddl"])
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(BENCH["copy_customers"]) as copy:
                copy.set_types(["uuid", "text", "text", "bool"])
                for i, cid in enumerate(memories.customer_ids):
                    copy.write_row((cid, f"crm-{i}", f"Customer {i}", True))
            with cur.copy(BENCH["copy_memories"]) as copy:
                copy.set_types(["uuid", "text", "text", "vector", "text"])
                for row, owner in enumerate(memories.owner):
                    copy.write_row(
                        (
                            memories.customer_ids[owner],
                            f"memory {row}",
                            "text-embedding-3-small",
                            memories.vectors[row],
                            None,
                        )
                    )
        loaded = time.perf_counter()
        conn.execute(BENCH["build_memory"])
        conn.execute(
            sql.SQL(BENCH["create_memory_index_ddl"]).format(  # type: ignore[arg-type]
                m=sql.Literal(16), ef_construction=sql.Literal(64)
            )
        )
        conn.execute(BENCH["analyze"])
    return {"copy_seconds": round(loaded - started, 2), "index_seconds": round(time.perf_counter() - loaded, 2)}


class Sql:
    """One of the SQL variants, run directly through psycopg."""

    def __init__(self, url: str, query: str, setup: tuple[str, ...], filtered: bool) -> None:
        self.url, self.query, self.setup, self.filtered = url, query, setup, filtered
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.found: dict[int, list[int]] = {}
        self.plan: list[str] = []
        self.last: tuple[uuid.UUID, np.ndarray] | None = None

    async def open(self) -> None:
        self.conn = await psycopg.AsyncConnection.connect(self.url)
        await register_vector_async(self.conn)
        await self.conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(PRODUCT_EF_SEARCH),))
        await self.conn.commit()

    async def close(self) -> None:
        if self.conn is not None:
            await self.explain()
            await self.conn.close()

    async def explain(self) -> None:
        """The plan this connection runs now (after the measured queries: prepared, warm), for the report."""
        assert self.conn is not None
        async with self.conn.transaction():
            for statement in self.setup:
                await self.conn.execute(statement)
            params: dict[str, Any] = {"embedding": self.last[1], "limit": LIMIT, "max_distance": None}
            if self.filtered:
                params["customer_id"] = self.last[0]
            cur = await self.conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + self.query, params)
            self.plan = [row[0][:120] for row in await cur.fetchall() if "::vector" not in row[0]]

    async def __call__(self, item: int, customer: uuid.UUID, vector: np.ndarray) -> None:
        assert self.conn is not None
        self.last = (customer, vector)
        async with self.conn.transaction():
            for statement in self.setup:
                await self.conn.execute(statement)
            params: dict[str, Any] = {"embedding": vector, "limit": LIMIT, "max_distance": None}
            if self.filtered:
                params["customer_id"] = customer
            cur = await self.conn.execute(self.query, params)
            self.found[item] = [row[1] for row in await cur.fetchall()]  # memory id: the second column of every variant


class Http:
    def __init__(self, app: services.App, vectors: np.ndarray, customers: list[uuid.UUID], filtered: bool) -> None:
        self.app, self.filtered = app, filtered
        self.bodies = [msgspec.json.encode({"embedding": data.json_floats(v), "limit": LIMIT}) for v in vectors]
        self.paths = [f"/search/memory?customer_id={c}" if filtered else "/search/memory" for c in customers]
        self.conn: HttpConnection | None = None
        self.raw: dict[int, bytes] = {}

    async def open(self) -> None:
        self.conn = await HttpConnection("127.0.0.1", self.app.port, services.TOKEN).open()
        self.requests = [self.conn.request_bytes("POST", p, b) for p, b in zip(self.paths, self.bodies, strict=False)]

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def __call__(self, item: int, customer: uuid.UUID, vector: np.ndarray) -> None:
        assert self.conn is not None
        status, body = await self.conn.send(self.requests[item])
        if status != 200:
            raise RuntimeError(f"POST /search/memory answered {status}: {body[:300]!r}")
        self.raw[item] = body

    @property
    def found(self) -> dict[int, list[int]]:
        return {i: [m["memory"]["id"] for m in msgspec.json.decode(b)["matches"]] for i, b in self.raw.items()}


def score(found: dict[int, list[int]], truth: list[list[int]], available: list[int]) -> dict[str, Any]:
    items = sorted(found)
    returned = [len(found[i]) for i in items]
    full = [len(found[i]) >= min(LIMIT, available[i]) for i in items]
    recall = [len(set(found[i]) & set(truth[i])) / max(1, min(LIMIT, available[i])) for i in items]
    return {
        "queries_scored": len(items),
        "mean_returned": round(float(np.mean(returned)), 2),
        "share_with_k": round(float(np.mean(full)), 4),
        "recall_at_10": round(float(np.mean(recall)), 4),
    }


async def compare(
    methods: list[Any], customers: list[uuid.UUID], vectors: np.ndarray, n: int, seconds: float, rounds: int = ROUNDS
) -> list[dict[str, Any]]:
    """The methods take turns (A B C ... A B C ...), each round on the next slice of the queries."""
    for method in methods:
        await method.open()
    runs: list[list[Run]] = [[] for _ in methods]
    per_round = -(-n // rounds)
    try:
        for method in methods:  # warm-up: plans, caches, prepared statements

            async def warm(worker: int, item: int, method: Any = method) -> None:
                await method(item, customers[item], vectors[item])

            await closed_loop(warm, concurrency=1, items=len(vectors), max_count=min(10, n), max_seconds=seconds)
        for round_ in range(rounds):
            offset = round_ * per_round
            for index, method in enumerate(methods):

                async def call(worker: int, item: int, method: Any = method, offset: int = offset) -> None:
                    i = (item + offset) % len(vectors)
                    await method(i, customers[i], vectors[i])

                runs[index].append(
                    await closed_loop(
                        call,
                        concurrency=1,
                        items=len(vectors),
                        max_count=per_round,
                        max_seconds=seconds / rounds,
                        min_count=min(per_round, 5),
                    )
                )
    finally:
        for method in methods:
            await method.close()
    return [merge(parts).summary() for parts in runs]


async def run(pg: services.Postgres, size: MemorySize, logs: Path, progress: Any) -> dict[str, Any]:
    memories = data.memories(size.customers, size.per_customer)
    owners, vectors = memories.queries(size.queries, seed=5)
    customers = [memories.customer_ids[o] for o in owners]
    # Memory ids follow COPY order (identity column from 1 on a new table).
    ids = np.arange(1, len(memories.owner) + 1)
    all_top = data.exact_top(memories.vectors, vectors, LIMIT)
    truth_all = [[int(ids[r]) for r in row] for row in all_top]
    truth_mine, available = [], []
    for owner, vector in zip(owners, vectors, strict=False):
        rows = np.flatnonzero(memories.owner == owner)
        top = data.exact_top(memories.vectors[rows], vector[None, :], min(LIMIT, len(rows)))[0]
        truth_mine.append([int(ids[rows[r]]) for r in top])
        available.append(len(rows))
    everyone = [len(memories.owner)] * len(owners)

    name = "bench_memory"
    url = pg.create(name)
    try:
        timings = load(url, memories)
        progress(f"memories: loaded {len(memories.owner)} rows ({timings})")
        iterative = QUERIES["enable_iterative_scan"]
        hnsw_where = BENCH["memories_hnsw_where_customer"]
        variants: list[tuple[str, str, bool, Any]] = [
            (
                UNFILTERED_FLOOR,
                "floor",
                False,
                Sql(url, QUERIES["search_memories"], (QUERIES["enable_iterative_index_scan"],), False),
            ),
            (
                UNFILTERED_BEFORE,
                "rejected",
                False,
                Sql(url, QUERIES["search_memories"], (iterative,), False),
            ),
            (
                "unfiltered: exact scan",
                "exact",
                False,
                Sql(url, QUERIES["search_memories"], (BENCH["exact_scan"],), False),
            ),
            (
                "filtered: product SQL (exact scan of the customer's rows)",
                "floor",
                True,
                Sql(url, QUERIES["search_customer_memories"], (), True),
            ),
            (
                "rejected: HNSW + customer filter, iterative scan off",
                "rejected",
                True,
                Sql(url, hnsw_where, (BENCH["force_hnsw"], BENCH["iterative_scan_off"]), True),
            ),
            (
                "rejected: HNSW + customer filter, iterative relaxed_order",
                "rejected",
                True,
                Sql(url, hnsw_where, (BENCH["force_hnsw"], iterative), True),
            ),
            (
                "rejected: HNSW + customer filter, iterative strict_order",
                "rejected",
                True,
                Sql(url, hnsw_where, (BENCH["force_hnsw"], BENCH["iterative_scan_strict"]), True),
            ),
            (
                "rejected: the same query, planner's choice (iterative relaxed_order)",
                "rejected",
                True,
                Sql(url, hnsw_where, (iterative,), True),
            ),
        ]
        rows: list[dict[str, Any]] = []
        with services.app(url, logs, name="app-memory", HNSW_EF_SEARCH=str(PRODUCT_EF_SEARCH)) as app:
            variants[1:1] = [("unfiltered: POST /search/memory", "product", False, Http(app, vectors, customers, False))]
            variants[5:5] = [
                ("filtered: POST /search/memory?customer_id=", "product", True, Http(app, vectors, customers, True))
            ]
            summaries = await compare([v[3] for v in variants], customers, vectors, size.queries, size.max_seconds)
            for (label, kind, filtered, method), run_ in zip(variants, summaries, strict=False):
                truth, avail = (truth_mine, available) if filtered else (truth_all, everyone)
                rows.append(
                    {
                        "method": label,
                        "kind": kind,
                        "filtered": filtered,
                        **run_,
                        **score(method.found, truth, avail),
                        "plan": getattr(method, "plan", []),
                    }
                )
                progress(
                    f"memories: {label}: p50 {run_['p50_ms']:.2f} ms, returned {rows[-1]['mean_returned']}, "
                    f"recall {rows[-1]['recall_at_10']}"
                )
    finally:
        pg.drop(name)
    by = {r["method"]: r for r in rows}
    product_filtered = by["filtered: POST /search/memory?customer_id="]
    product_unfiltered = by["unfiltered: POST /search/memory"]
    return {
        "customers": size.customers,
        "per_customer": size.per_customer,
        "rows": len(memories.owner),
        "queries": size.queries,
        "load": timings,
        "methods": rows,
        "ratios": {
            "filtered_over_unfiltered_p50": round(product_filtered["p50_ms"] / product_unfiltered["p50_ms"], 2),
            # Without the fix the unfiltered search was a full scan, which made any filtered search look fast.
            "filtered_over_unfiltered_before_fix_p50": round(
                by["filtered: product SQL (exact scan of the customer's rows)"]["p50_ms"] / by[UNFILTERED_BEFORE]["p50_ms"],
                3,
            ),
            "filtered_share_with_k": product_filtered["share_with_k"],
        },
    }
