"""Face search on clustered embeddings: identity accuracy@1 and recall@10 against an exact scan, and
latency/QPS at concurrency 1 and 16, for the product's SQL run directly through psycopg (the floor),
`POST /search/face` over HTTP (the product), and the same SQL forced to an exact scan. An hnsw.ef_search
sweep (and m / ef_construction at build, at the smallest size) gives the accuracy-latency curve."""

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
from bench.http_client import HttpConnection
from bench.queries import BENCH, QUERIES
from bench.stats import Run, closed_loop, merge
from frontdesk.settings import Settings

LIMIT = 10  # results asked for: recall@10
MAX_DISTANCE = 2.0  # every customer qualifies, so all methods return full lists to compare
# What the product runs with by default: HNSW_EF_SEARCH (the memory search) and FACE_SEARCH_EF_SEARCH.
PRODUCT_EF_SEARCH = Settings().hnsw_ef_search
FACE_EF_SEARCH = Settings().face_search_ef_search
DEFAULT_BUILD = (16, 64)  # pgvector's defaults, which the migration uses
ROUNDS = 3  # methods compared take turns this many times


@dataclass(frozen=True)
class FaceSize:
    rows: tuple[int, ...]
    queries: int
    concurrency: tuple[int, ...]
    ef_search: tuple[int, ...]
    builds: tuple[tuple[int, int], ...]  # (m, ef_construction) swept at the smallest size
    max_seconds: float  # per measured run
    exact_max_seconds: float


def load(url: str, faces: data.Faces) -> float:
    """Customers and faces by binary COPY, then the product's HNSW index built once; seconds to load."""
    started = time.perf_counter()
    with services.connect(url) as conn:
        conn.execute(BENCH["drop_face_index_ddl"])
        with conn.cursor() as cur:
            with cur.copy(BENCH["copy_customers"]) as copy:
                copy.set_types(["uuid", "text", "text", "bool"])
                for i, cid in enumerate(faces.customer_ids):
                    copy.write_row((cid, f"crm-{i}", f"Person {i}", bool(faces.consented[i])))
            with cur.copy(BENCH["copy_faces"]) as copy:
                copy.set_types(["uuid", "text", "vector"])
                for row, person in enumerate(faces.owner):
                    copy.write_row((faces.customer_ids[person], "arcface-r100", faces.vectors[row]))
        conn.commit()
    return time.perf_counter() - started


def build_index(url: str, m: int, ef_construction: int) -> float:
    with services.connect(url, autocommit=True) as conn:
        conn.execute(BENCH["build_memory"])
        conn.execute(BENCH["drop_face_index_ddl"])
        started = time.perf_counter()
        conn.execute(
            sql.SQL(BENCH["create_face_index_ddl"]).format(  # type: ignore[arg-type]
                m=sql.Literal(m), ef_construction=sql.Literal(ef_construction)
            )
        )
        seconds = time.perf_counter() - started
        conn.execute(BENCH["analyze"])
    return seconds


def truth(faces: data.Faces, queries: np.ndarray) -> list[list[int]]:
    """The exact top-LIMIT consented people per query (best face per person), by brute force in numpy."""
    allowed = faces.consented[faces.owner]
    rows = np.flatnonzero(allowed)
    top = data.exact_top(faces.vectors[rows], queries, LIMIT * 5 + 5)
    out = []
    for hits in top:
        people: list[int] = []
        for person in faces.owner[rows[hits]]:
            if person not in people:
                people.append(int(person))
        out.append(people[:LIMIT])
    return out


def score(found: dict[int, list[int]], identities: np.ndarray, exact: list[list[int]]) -> dict[str, float]:
    items = sorted(found)
    acc = [bool(found[i]) and found[i][0] == identities[i] for i in items]
    recall = [len(set(found[i]) & set(exact[i])) / LIMIT for i in items]
    return {
        "queries_scored": len(items),
        "accuracy_at_1": round(float(np.mean(acc)), 4),
        "recall_at_10": round(float(np.mean(recall)), 4),
    }


class SqlSearcher:
    """The product's two statements on direct psycopg connections (one per worker)."""

    def __init__(self, url: str, person_of: dict[uuid.UUID, int], exact: bool = False, ef: int | None = None) -> None:
        self.url, self.person_of, self.exact, self.ef = url, person_of, exact, ef
        self.conns: list[psycopg.AsyncConnection[Any]] = []
        self.found: dict[int, list[int]] = {}

    async def open(self, n: int) -> None:
        for _ in range(n):
            conn = await psycopg.AsyncConnection.connect(self.url)
            await register_vector_async(conn)
            await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(PRODUCT_EF_SEARCH),))
            await conn.commit()
            self.conns.append(conn)

    async def close(self) -> None:
        for conn in self.conns:
            await conn.close()

    async def __call__(self, worker: int, item: int, vector: np.ndarray) -> None:
        conn = self.conns[worker]
        async with conn.transaction():
            # The product's own statement (iterative scan, face search's ef_search), then what a variant changes.
            await conn.execute(QUERIES["enable_face_scan"], {"ef_search": str(self.ef or FACE_EF_SEARCH)})
            if self.exact:
                await conn.execute(BENCH["exact_scan"])
            cur = await conn.execute(
                QUERIES["search_faces"],
                {"embedding": vector, "max_distance": MAX_DISTANCE, "limit": LIMIT, "candidates": LIMIT * 10},
            )
            rows = await cur.fetchall()
        self.found[item] = [self.person_of[row[2]] for row in rows]


class HttpSearcher:
    """POST /search/face, bodies encoded before timing starts."""

    def __init__(self, app: services.App, person_of: dict[uuid.UUID, int], vectors: np.ndarray) -> None:
        self.app, self.person_of = app, person_of
        self.conns: list[HttpConnection] = []
        self.bodies = [
            msgspec.json.encode({"embedding": data.json_floats(v), "limit": LIMIT, "max_distance": MAX_DISTANCE})
            for v in vectors
        ]
        self.requests: list[bytes] = []
        self.raw: dict[int, bytes] = {}

    async def open(self, n: int) -> None:
        for _ in range(n):
            self.conns.append(await HttpConnection("127.0.0.1", self.app.port, services.TOKEN).open())
        self.requests = [self.conns[0].request_bytes("POST", "/search/face", b) for b in self.bodies]

    async def close(self) -> None:
        for conn in self.conns:
            await conn.close()

    async def __call__(self, worker: int, item: int, vector: np.ndarray) -> None:
        status, body = await self.conns[worker].send(self.requests[item])
        if status != 200:
            raise RuntimeError(f"POST /search/face answered {status}: {body[:300]!r}")
        self.raw[item] = body

    @property
    def found(self) -> dict[int, list[int]]:
        return {
            item: [self.person_of[uuid.UUID(m["customer"]["id"])] for m in msgspec.json.decode(body)["matches"]]
            for item, body in self.raw.items()
        }


async def measure(
    searcher: Any, vectors: np.ndarray, concurrency: int, max_count: int, max_seconds: float, min_count: int
) -> dict[str, Any]:
    return (await compare({"one": (searcher, max_seconds)}, vectors, concurrency, max_count, min_count, 1))["one"]


async def compare(
    searchers: dict[str, tuple[Any, float]],
    vectors: np.ndarray,
    concurrency: int,
    count: int,
    min_count: int,
    rounds: int = ROUNDS,
    pg: services.Postgres | None = None,
    app: services.App | None = None,
) -> dict[str, dict[str, Any]]:
    """Each searcher runs `rounds` times in turn (A B C A B C ...), each round on the next slice of the
    queries, so a burst of load from elsewhere on the machine falls on all of them alike."""
    for searcher, _ in searchers.values():
        await searcher.open(concurrency)
    runs: dict[str, list[Run]] = {name: [] for name in searchers}
    cpu: dict[str, dict[str, float]] = {name: {"app": 0.0, "postgres": 0.0} for name in searchers}
    per_round = -(-count // rounds)
    try:
        for round_ in range(rounds):
            offset = round_ * per_round
            for name, (searcher, max_seconds) in searchers.items():

                async def call(worker: int, item: int, searcher: Any = searcher, offset: int = offset) -> None:
                    index = (item + offset) % len(vectors)
                    await searcher(worker, index, vectors[index])

                before = _cpu(pg, app)
                runs[name].append(
                    await closed_loop(
                        call,
                        concurrency=concurrency,
                        items=len(vectors),
                        max_count=per_round,
                        max_seconds=max_seconds / rounds,
                        min_count=max(1, min_count // rounds),
                    )
                )
                after = _cpu(pg, app)
                for part in cpu[name]:
                    cpu[name][part] += after[part] - before[part]
    finally:
        for searcher, _ in searchers.values():
            await searcher.close()
    out = {}
    for name, parts in runs.items():
        run = merge(parts)
        out[name] = {
            **run.summary(),
            **{
                f"{part}_cpu_ms_per_query": round(1000 * used / max(1, run.count), 3)
                for part, used in cpu[name].items()
                if pg is not None
            },
        }
    return out


def _cpu(pg: services.Postgres | None, app: services.App | None) -> dict[str, float]:
    """CPU seconds used so far by the app process and by Postgres (0 when not given)."""
    return {"app": app.process.cpu_seconds() if app else 0.0, "postgres": pg.cpu_seconds() if pg else 0.0}


async def bench_size(
    pg: services.Postgres, rows: int, size: FaceSize, logs: Path, sweep_builds: bool, progress: Any
) -> dict[str, Any]:
    identities = max(rows // 5, 2)
    faces = data.faces(identities)
    identity_ids, vectors = faces.queries(size.queries, seed=rows)
    exact = truth(faces, vectors)
    person_of = {cid: i for i, cid in enumerate(faces.customer_ids)}
    name = f"bench_face_{rows}"
    url = pg.create(name)
    result: dict[str, Any] = {"rows": len(faces.owner), "identities": identities, "queries": size.queries}
    try:
        result["load_seconds"] = round(load(url, faces), 2)
        n = size.queries
        sweep = []
        builds = size.builds if sweep_builds else (DEFAULT_BUILD,)
        for m, efc in [b for b in builds if b != DEFAULT_BUILD] + [DEFAULT_BUILD]:  # the product's index last
            seconds = build_index(url, m, efc)
            progress(f"faces {rows}: built HNSW m={m} ef_construction={efc} in {seconds:.1f} s")
            await measure(SqlSearcher(url, person_of), vectors, 1, min(n, 50), 30, 1)  # warm the caches
            for ef in size.ef_search:
                searcher = SqlSearcher(url, person_of, ef=ef)
                run = await measure(searcher, vectors, 1, n, size.max_seconds, min(n, 20))
                sweep.append(
                    {
                        "m": m,
                        "ef_construction": efc,
                        "build_seconds": round(seconds, 2),
                        "ef_search": ef,
                        **run,
                        **score(searcher.found, identity_ids, exact),
                    }
                )
        result["sweep"] = sweep

        methods: dict[str, list[dict[str, Any]]] = {"floor": [], "product": [], "exact": []}
        with services.app(url, logs, name=f"app-face-{rows}", HNSW_EF_SEARCH=str(PRODUCT_EF_SEARCH)) as app:
            await measure(HttpSearcher(app, person_of, vectors), vectors, 1, min(n, 50), 30, 1)  # warm up
            for concurrency in size.concurrency:
                count = max(n, 20 * concurrency)
                searchers = {
                    "floor": (SqlSearcher(url, person_of), size.max_seconds),
                    "product": (HttpSearcher(app, person_of, vectors), size.max_seconds),
                    "exact": (SqlSearcher(url, person_of, exact=True), size.exact_max_seconds),
                }
                runs = await compare(searchers, vectors, concurrency, count, min(n, 2 * concurrency), pg=pg, app=app)
                for method, (searcher, _) in searchers.items():
                    run_ = runs[method]
                    methods[method].append({**run_, **score(searcher.found, identity_ids, exact)})
                    progress(f"faces {rows}: {method} c={concurrency}: p50 {run_['p50_ms']:.2f} ms, {run_['qps']:.0f} q/s")
        result["methods"] = methods
        exact_acc = methods["exact"][0]["accuracy_at_1"]
        result["ratios"] = {
            "api_overhead_p50": [
                round(p["p50_ms"] / f["p50_ms"], 2) for p, f in zip(methods["product"], methods["floor"], strict=False)
            ],
            "accuracy_vs_exact": round(methods["product"][0]["accuracy_at_1"] / exact_acc, 4) if exact_acc else None,
            "exact_over_product_p50": [
                round(e["p50_ms"] / p["p50_ms"], 1) for e, p in zip(methods["exact"], methods["product"], strict=False)
            ],
        }
    finally:
        pg.drop(name)
    return result


async def run(pg: services.Postgres, size: FaceSize, logs: Path, progress: Any) -> dict[str, Any]:
    results = []
    for index, rows in enumerate(size.rows):
        results.append(await bench_size(pg, rows, size, logs, sweep_builds=index == 0, progress=progress))
    return {
        "sizes": results,
        "limit": LIMIT,
        "product_ef_search": FACE_EF_SEARCH,
        "concurrency": list(size.concurrency),
    }
