"""Where the app's time goes under one bench's load: `python -m bench.profile face|memory|ingest|signaling`.

Starts the same embedded Postgres and `python -m frontdesk serve` subprocess as the benches, records it
with py-spy (sampling; no change to the app) while the load runs, and prints the functions that hold the
most samples, inclusive and self, as evidence for the findings in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from bench import data, face_search, ingest, services, signaling
from bench.http_client import HttpConnection
from bench.stats import closed_loop


def summarise(raw: Path, top: int = 30) -> str:
    """py-spy's collapsed stacks ("frame;frame;frame count") -> inclusive and self sample shares."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f} %  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * n / total:5.1f} %  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


async def face_load(app: services.App, seconds: float, concurrency: int, rows: int) -> str:
    faces = data.faces(rows // 5)
    _, vectors = faces.queries(200, seed=1)
    bodies = [msgspec.json.encode({"embedding": data.json_floats(v), "limit": 10, "max_distance": 2.0}) for v in vectors]
    conns = [await HttpConnection("127.0.0.1", app.port, services.TOKEN).open() for _ in range(concurrency)]
    requests = [conns[0].request_bytes("POST", "/search/face", b) for b in bodies]

    async def call(worker: int, item: int) -> None:
        status, body = await conns[worker].send(requests[item])
        assert status == 200, body

    run = await closed_loop(call, concurrency=concurrency, items=len(requests), max_count=10**9, max_seconds=seconds)
    return str(run.summary())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("scenario", choices=["face", "ingest", "signaling"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--out", type=Path, default=services.BENCH / "results")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    work = Path(tempfile.mkdtemp(prefix="frontdesk-profile-"))
    pg = services.Postgres(work)
    try:
        url = pg.create("bench_profile")
        if args.scenario == "face":
            face_search.load(url, data.faces(args.rows // 5))
            face_search.build_index(url, *face_search.DEFAULT_BUILD)
        elif args.scenario == "ingest":
            with services.connect(url) as conn, conn.cursor() as cur:
                memories = ingest.memories_for(args.rows)
                with cur.copy(ingest.BENCH["copy_customers"]) as copy:
                    copy.set_types(["uuid", "text", "text", "bool"])
                    for i, cid in enumerate(memories.customer_ids):
                        copy.write_row((cid, f"crm-{i}", f"Customer {i}", True))
                conn.commit()
        env = {"MAX_MESSAGES_PER_SECOND": "100000", "MAX_ROOMS": "100000"}
        with services.app(url, work, name="app-profile", **env) as app:
            raw = args.out / f"profile-{args.scenario}.raw.txt"
            args.out.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(app.process.pid),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--duration",
                    str(int(args.seconds) + 1),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
            load: Any
            if args.scenario == "face":
                load = asyncio.run(face_load(app, args.seconds, args.concurrency, args.rows))
            elif args.scenario == "ingest":
                memories = ingest.memories_for(args.rows)
                load = asyncio.run(ingest.through_api(url, app, memories, 100, args.concurrency, args.seconds))
            else:
                size = signaling.SignalingSize(
                    rooms=(args.rooms,), seconds=args.seconds / 4, rate_per_room=10, max_rate=2000, window=4
                )
                load = asyncio.run(
                    signaling.drive(signaling.Frontdesk(), app.ws_url, app.ws_url, [app.process], args.rooms, size)
                )
            spy.wait(60)
        text = f"scenario {args.scenario}: {load}\n\n" + summarise(raw)
        (args.out / f"profile-{args.scenario}.txt").write_text(text)
        print(text)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
