"""docs/benchmarks.md and docs/img/bench-*.png from one run's results (`python -m bench.report RESULTS.json`
re-renders a saved run). Everything is side by side from the same run; ratios carry the meaning."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

FINDINGS = Path(__file__).resolve().parent / "findings.md"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**short**")


# ---- goals ----------------------------------------------------------------------------------------------


def goals(results: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    face = results.get("face")
    if face:
        big = face["sizes"][-1]
        acc = big["ratios"]["accuracy_vs_exact"]
        rows.append(
            [
                f"face accuracy@1 ≥ 0.99 × exact's ({big['rows']:,} rows)",
                _fmt(acc, 4),
                _verdict(acc >= 0.99 if acc else None),
            ]
        )
        overhead = big["ratios"]["api_overhead_p50"][0]
        rows.append(
            [
                f"face HTTP p50 ≤ 1.5 × raw SQL p50 ({big['rows']:,} rows, c=1)",
                f"{_fmt(overhead)}×",
                _verdict(overhead <= 1.5),
            ]
        )
    memory = results.get("memory")
    if memory:
        share, ratio = memory["ratios"]["filtered_share_with_k"], memory["ratios"]["filtered_over_unfiltered_p50"]
        rows.append(
            [
                "filtered memory search returns k whenever k exist",
                f"{_fmt(share * 100, 1)} % of queries",
                _verdict(share == 1.0),
            ]
        )
        rows.append(["filtered p50 ≤ 2 × unfiltered p50", f"{_fmt(ratio)}×", _verdict(ratio <= 2)])
    ing = results.get("ingest")
    if ing:
        ratio = ing["worst_batch_over_copy"]
        rows.append(
            [
                "ingest through the API ≥ 50 % of binary COPY (same concurrency, worst case)",
                f"{_fmt(ratio * 100, 0)} %",
                _verdict(ratio >= 0.5),
            ]
        )
    sig = results.get("signaling")
    if sig and sig["ratios_frontdesk_over_peerjs"]:
        last = sig["ratios_frontdesk_over_peerjs"][-1]
        rooms = last["rooms"]
        tp = min(x for x in (last["candidate_throughput"], last["sdp_throughput"]) if x is not None)
        p99 = max(x for x in (last["candidate_p99_steady"], last["sdp_p99_steady"]) if x is not None)
        rows.append(
            [
                f"signaling throughput ≥ peerjs-server's ({rooms} rooms)",
                f"{_fmt(tp)}× (worse of candidate / SDP)",
                _verdict(tp >= 1),
            ]
        )
        rows.append(
            [
                f"signaling p99 ≤ peerjs-server's ({rooms} rooms, steady load)",
                f"{_fmt(p99)}× (worse of candidate / SDP)",
                _verdict(p99 <= 1),
            ]
        )
    return rows


# ---- sections -------------------------------------------------------------------------------------------


def machine_section(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    rows = [
        ["CPU", m.get("cpu")],
        ["cores", m.get("cores")],
        ["RAM", f"{m.get('ram_gib')} GiB"],
        ["OS", m.get("os")],
        ["Python", m.get("python")],
        ["PostgreSQL (embedded)", m.get("postgres")],
        ["pgvector", m.get("pgvector")],
        ["shared_buffers (bench cluster)", m.get("shared_buffers")],
        ["Node.js", m.get("node")],
        ["peerjs-server (npm `peer`)", m.get("peer", "–")],
        ["Chromium", m.get("chromium", "–")],
        ["load average at start / end", f"{m.get('load_at_start')} / {m.get('load_at_end')}"],
        ["frontdesk commit", results.get("commit")],
    ]
    return ["## The machine", "", *_table(["", ""], rows)]


def face_section(face: dict[str, Any], img: str | None) -> list[str]:
    out = [
        "## Face search",
        "",
        (
            f"Clustered 512-d embeddings (people × 5 samples, in look-alike groups; 5 % of people without biometric "
            f"consent), queries are a new sample of a known person. `limit` {face['limit']}, `max_distance` 2 (every "
            f"customer qualifies, so every method returns a full list to compare). **floor**: the product's own SQL "
            f"(`search_faces`, iterative scan on, `hnsw.ef_search` {face['product_ef_search']}) run directly through "
            f"psycopg; **product**: `POST /search/face` over HTTP/1.1 keep-alive; **exact**: the same SQL with index "
            f"scans off (sequential scan and sort). accuracy@1: the top match is the query's person; recall@10: "
            f"overlap with numpy's exact top 10 people."
        ),
        "",
    ]
    for size in face["sizes"]:
        out += [f"### {size['rows']:,} faces ({size['identities']:,} people, {size['queries']} queries)", ""]
        rows = []
        for method in ("floor", "product", "exact"):
            for run, floor in zip(size["methods"][method], size["methods"]["floor"], strict=False):
                rows.append(
                    [
                        method,
                        run["concurrency"],
                        run["p50_ms"],
                        run["p99_ms"],
                        run["qps"],
                        run["accuracy_at_1"],
                        run["recall_at_10"],
                        f"{_fmt(run['p50_ms'] / floor['p50_ms'])}×",
                        run.get("app_cpu_ms_per_query"),
                        run.get("postgres_cpu_ms_per_query"),
                    ]
                )
        out += _table(
            [
                "method",
                "concurrency",
                "p50 ms",
                "p99 ms",
                "QPS",
                "accuracy@1",
                "recall@10",
                "p50 / floor p50",
                "app CPU ms / query",
                "Postgres CPU ms / query",
            ],
            rows,
        )
        r = size["ratios"]
        out += [
            (
                "API overhead (product p50 / floor p50): "
                f"**{' / '.join(_fmt(x) + '×' for x in r['api_overhead_p50'])}** "
                f"at concurrency {' / '.join(str(c) for c in face['concurrency'])}; product accuracy@1 / exact's: "
                f"**{_fmt(r['accuracy_vs_exact'], 4)}**; exact scan p50 / product p50: "
                f"{' / '.join(_fmt(x, 1) + '×' for x in r['exact_over_product_p50'])}. "
                f"Load (COPY) {size['load_seconds']} s."
            ),
            "",
        ]
        if size.get("sweep"):
            rows = [
                [
                    s["m"],
                    s["ef_construction"],
                    s["build_seconds"],
                    s["ef_search"],
                    s["p50_ms"],
                    s["p99_ms"],
                    s["accuracy_at_1"],
                    s["recall_at_10"],
                ]
                for s in size["sweep"]
            ]
            out += [
                "Sweep (floor SQL, concurrency 1):",
                "",
                *_table(
                    ["m", "ef_construction", "build s", "ef_search", "p50 ms", "p99 ms", "accuracy@1", "recall@10"],
                    rows,
                ),
            ]
    if img:
        out += [f"![accuracy against latency]({img})", ""]
    return out


def memory_section(memory: dict[str, Any]) -> list[str]:
    rows = [
        [
            m["method"],
            m["p50_ms"],
            m["p99_ms"],
            m["mean_returned"],
            f"{_fmt(m['share_with_k'] * 100, 1)} %",
            m["recall_at_10"],
        ]
        for m in memory["methods"]
    ]
    r = memory["ratios"]
    return [
        "## Memory search",
        "",
        (
            f"{memory['rows']:,} memories over {memory['customers']:,} customers ({memory['per_customer']} each), "
            f"1536-d, clustered by topic; k = 10, {memory['queries']} queries at concurrency 1; filtered queries "
            f"name a random customer. recall@10 against numpy's exact answer (for the filtered rows: among that "
            f"customer's memories). Load: COPY {memory['load']['copy_seconds']} s, HNSW build "
            f"{memory['load']['index_seconds']} s."
        ),
        "",
        *_table(["method", "p50 ms", "p99 ms", "results returned (mean)", "queries with k results", "recall@10"], rows),
        (
            f"Filtered (product) p50 / unfiltered (product) p50: **{_fmt(r['filtered_over_unfiltered_p50'])}×** "
            f"(against the unfiltered search before the fix, a full scan: "
            f"{_fmt(r.get('filtered_over_unfiltered_before_fix_p50'), 3)}×); "
            f"filtered queries with all k results: **{_fmt(r['filtered_share_with_k'] * 100, 1)} %**."
        ),
        "",
    ]


_PLAN_NOISE = re.compile(r"Buffers:|Sort Method|Worker \d|Memory Usage|Cache (Key|Mode)|Hits:|Storage:|Full-sort")


def plans_section(memory: dict[str, Any]) -> list[str]:
    out = []
    for method in memory["methods"]:
        if method.get("plan") and method["method"].startswith(("unfiltered: product SQL", "rejected: unfiltered")):
            out += [
                f"Plan of *{method['method']}* (EXPLAIN ANALYZE after the measured queries):",
                "",
                "```text",
                *[line for line in method["plan"] if not _PLAN_NOISE.search(line)][:20],
                "```",
                "",
            ]
    return out


def ingest_section(ing: dict[str, Any], img: str | None) -> list[str]:
    floors = {m["concurrency"]: m["rows_per_s"] for m in ing["methods"] if m["method"] == "binary COPY (floor)"}
    rows = [
        [
            m["method"],
            m["concurrency"],
            m["rows"],
            m["seconds"],
            m["rows_per_s"],
            f"{_fmt(m['rows_per_s'] / floors[m['concurrency']])}×",
            m.get("request_p50_ms"),
        ]
        for m in ing["methods"]
    ]
    ratios = [
        [
            f"concurrency {c[1:]}",
            f"{_fmt(r['batch_over_copy'] * 100, 0)} %",
            f"{_fmt(r['single_over_copy'] * 100, 0)} %",
            f"{_fmt(r['batch_over_single'], 1)}×",
        ]
        for c, r in ing["ratios"].items()
    ]
    out = [
        "## Ingest",
        "",
        (
            f"1536-d memories into an empty `customer_memory` with the product's indexes (the HNSW index is "
            f"maintained on insert, as in production); batch requests of {ing['batch']} items (~17 KB of JSON "
            f"each); the COPY floor at the same concurrency splits the rows over that many connections. Up to "
            f"{ing['rows']:,} rows per method."
        ),
        "",
        *_table(["method", "concurrency", "rows", "seconds", "rows/s", "/ COPY (same concurrency)", "request p50 ms"], rows),
        *_table(["", "batch / COPY", "one row / COPY", "batch / one row"], ratios),
    ]
    if img:
        out += [f"![ingest rows per second]({img})", ""]
    return out


def signaling_section(sig: dict[str, Any], img: str | None) -> list[str]:
    out = [
        "## Signaling",
        "",
        (
            f"N rooms of one streamer and one viewer on one load generator (Python `websockets`, no compression); "
            f"the streamer relays to its viewer ICE-candidate-sized and SDP-sized ({sig['sdp_bytes']:,}-byte SDP) "
            f"messages with the send time inside. **steady**: each room sends {_fmt(sig['rate_per_room'], 0)} msg/s "
            f"(at most {_fmt(sig['max_rate'], 0)} msg/s in all) for {sig['seconds_per_phase']} s: the relay latency. "
            f"**saturated**: {sig['window']} messages in flight per room: throughput, and latency under it. "
            f"Server CPU: user+system seconds the server process used in the phase, per relayed message "
            f"(a number that does not depend on whether the load generator or the server ran out of CPU first). "
            f"Memory: server RSS after connecting minus before, per connection. frontdesk runs with "
            f"MAX_MESSAGES_PER_SECOND raised (the limiter is not what is measured); peerjs-server has no limiter."
        ),
        "",
    ]
    targets = sig["targets"]
    names = [n for n in targets if targets[n]] + [n for n in sig.get("unavailable", {})]
    header = [
        "rooms",
        "server",
        "candidate p50 / p99 ms",
        "SDP p50 / p99 ms",
        "candidate msg/s saturated (p99 ms)",
        "SDP msg/s saturated (p99 ms)",
        "server CPU µs / msg (candidate, SDP)",
        "KiB / connection",
    ]
    rows = []
    sizes = sorted({r["rooms"] for n in targets for r in targets[n]})
    for rooms in sizes:
        for name in names:
            found = [r for r in targets.get(name, []) if r["rooms"] == rooms]
            if not found:
                why = sig.get("unavailable", {}).get(name)
                rows.append([rooms, name, "not available yet (issue 8)" if why else "–", "–", "–", "–", "–", "–"])
                continue
            r = found[0]
            rows.append(
                [
                    rooms,
                    name,
                    f"{_fmt(r['candidate_steady']['p50_ms'])} / {_fmt(r['candidate_steady']['p99_ms'])}",
                    f"{_fmt(r['sdp_steady']['p50_ms'])} / {_fmt(r['sdp_steady']['p99_ms'])}",
                    f"{_fmt(r['candidate_saturated']['msgs_per_s'])} ({_fmt(r['candidate_saturated']['p99_ms'])})",
                    f"{_fmt(r['sdp_saturated']['msgs_per_s'])} ({_fmt(r['sdp_saturated']['p99_ms'])})",
                    (
                        f"{_fmt(r['candidate_saturated']['server_cpu_us_per_msg'], 0)}, "
                        f"{_fmt(r['sdp_saturated']['server_cpu_us_per_msg'], 0)}"
                    ),
                    r["kib_per_connection"],
                ]
            )
    out += _table(header, rows)
    ratio_rows = [
        [
            r["rooms"],
            r["candidate_throughput"],
            r["sdp_throughput"],
            r["candidate_p99_steady"],
            r["sdp_p99_steady"],
            r["candidate_p99_saturated"],
            r["sdp_p99_saturated"],
            r.get("cpu_per_msg_saturated"),
            r["memory_per_connection"],
        ]
        for r in sig["ratios_frontdesk_over_peerjs"]
    ]
    out += [
        "frontdesk / peerjs-server (throughput: higher is better; p99 and memory: lower is better):",
        "",
        *_table(
            [
                "rooms",
                "candidate throughput",
                "SDP throughput",
                "candidate p99 steady",
                "SDP p99 steady",
                "candidate p99 saturated",
                "SDP p99 saturated",
                "server CPU / msg",
                "memory / connection",
            ],
            ratio_rows,
        ),
    ]
    gc_rows = [
        [
            r["rooms"],
            r["gc"]["collections"][0],
            r["gc"]["collections"][1],
            r["gc"]["full_gc_pauses"],
            r["gc"]["longest_full_gc_pause_ms"],
            round(sum(r["gc"]["seconds"]), 2),
        ]
        for r in targets.get("frontdesk", [])
        if r.get("gc")
    ]
    if gc_rows:
        out += [
            "Python's garbage collector in the frontdesk process while the load generator ran at each size "
            "(connecting included, app start-up not; `bench/gc_probe`): a full (generation 2) collection stops "
            "the event loop, and with it "
            "every relay, for as long as it takes to walk every object.",
            "",
            *_table(
                ["rooms", "gen 0 passes", "gen 1 passes", "full passes", "longest full pause ms", "GC seconds in all"],
                gc_rows,
            ),
        ]
    if sig.get("ratios_cross_instance_over_single"):
        rows = [
            [r["rooms"], r["candidate_p50"], r["candidate_p99"], r["sdp_p50"], r["sdp_p99"]]
            for r in sig["ratios_cross_instance_over_single"]
        ]
        out += [
            (
                "Cross-instance (streamer on one app process, viewer on another, relayed through Postgres "
                "LISTEN/NOTIFY) / single instance, steady load:"
            ),
            "",
            *_table(["rooms", "candidate p50", "candidate p99", "SDP p50", "SDP p99"], rows),
        ]
    if sig.get("unavailable"):
        for name, why in sig["unavailable"].items():
            out += [
                (
                    f"*{name}*: the slot for issue 8 (streamer on one app process, viewer on another, rooms shared "
                    f"through Postgres); it fills itself once `SIGNALING_BACKEND=postgres` starts. Now: `{why}`."
                ),
                "",
            ]
    if img:
        out += [f"![signaling latency and throughput]({img})", ""]
    return out


def pages_section(p: dict[str, Any]) -> list[str]:
    m = p["median"]
    rows = [
        ["open `/` → camera link shown", m["viewer_to_link_s"]],
        ["open `/` → first decoded frame on the viewer (includes opening `/camera`)", m["viewer_to_first_frame_s"]],
        ["open `/camera` → first decoded frame on the viewer", m["camera_to_first_frame_s"]],
        ["open `/camera` → first face found on the viewer", m["camera_to_first_face_s"]],
    ]
    return [
        "## Pages",
        "",
        (
            f"Headless Chromium ({p.get('chromium', '?')}, software rendering, no GPU) with a fake camera playing a "
            f"photo of a face (the browser tests' helpers); both pages in one browser on loopback. Median of "
            f"{len(p['runs'])} run(s)."
        ),
        "",
        *_table(["step", "seconds"], rows),
        *_table(
            ["viewer", "frames per second"],
            [["video (decoded)", m["video_fps"]], ["face landmarks (FaceLandmarker)", m["detection_fps"]]],
        ),
        f"Landmark FPS / video FPS: **{_fmt(p['ratios']['detection_over_video_fps'])}**.",
        "",
    ]


# ---- plots ----------------------------------------------------------------------------------------------


def plots(results: dict[str, Any], img_dir: Path, rel: str) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    face = results.get("face")
    if face and any(s.get("sweep") for s in face["sizes"]):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for size in face["sizes"]:
            builds = sorted({(s["m"], s["ef_construction"]) for s in size["sweep"]})
            for m, efc in builds:
                points = [s for s in size["sweep"] if (s["m"], s["ef_construction"]) == (m, efc)]
                label = f"{size['rows']:,} rows, m={m}, ef_c={efc}"
                for ax, key in zip(axes, ("recall_at_10", "accuracy_at_1"), strict=False):
                    ax.plot([p["p50_ms"] for p in points], [p[key] for p in points], marker="o", label=label)
                    for p in points:
                        ax.annotate(
                            str(p["ef_search"]),
                            (p["p50_ms"], p[key]),
                            fontsize=7,
                            xytext=(3, -8),
                            textcoords="offset points",
                        )
        for ax, title in zip(axes, ("recall@10 vs exact", "identity accuracy@1"), strict=False):
            ax.set_xlabel("p50 latency, ms (floor SQL, concurrency 1; log scale)")
            ax.set_xscale("log")
            ax.set_title(f"{title} (labels: hnsw.ef_search)")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(img_dir / "bench-face-sweep.png", dpi=110)
        plt.close(fig)
        made["face"] = f"{rel}/bench-face-sweep.png"
    ing = results.get("ingest")
    if ing:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        labels = [f"{m['method']} (c={m['concurrency']})" for m in ing["methods"]]
        ax.barh(labels, [m["rows_per_s"] for m in ing["methods"]], color="#4c78a8")
        ax.invert_yaxis()
        ax.set_xlabel("rows per second (1536-d memories)")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(img_dir / "bench-ingest.png", dpi=110)
        plt.close(fig)
        made["ingest"] = f"{rel}/bench-ingest.png"
    sig = results.get("signaling")
    if sig and sig["targets"].get("frontdesk"):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, rows in sig["targets"].items():
            if not rows:
                continue
            rooms = [r["rooms"] for r in rows]
            for kind, style in (("candidate", "-o"), ("sdp", "--s")):
                axes[0].plot(rooms, [r[f"{kind}_steady"]["p99_ms"] for r in rows], style, label=f"{name}, {kind}")
                axes[1].plot(rooms, [r[f"{kind}_saturated"]["msgs_per_s"] for r in rows], style, label=f"{name}, {kind}")
        axes[0].set_title("relay p99 latency at steady load (ms, log scale)")
        axes[0].set_yscale("log")
        axes[1].set_title("saturated throughput (messages/s)")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("rooms (2 sockets each)")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(img_dir / "bench-signaling.png", dpi=110)
        plt.close(fig)
        made["signaling"] = f"{rel}/bench-signaling.png"
    return made


def _per_bench(results: dict[str, Any]) -> str:
    return ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in results.get("seconds", {}).items())


class _Blank(dict[str, str]):
    """Placeholders of bench/findings.md that this run has no number for read as a dash."""

    def __missing__(self, key: str) -> str:
        return "–"


def findings_values(results: dict[str, Any]) -> dict[str, str]:
    """The numbers bench/findings.md quotes ({name}), from this run."""
    values: dict[str, str] = {}
    memory = {m["method"]: m for m in results.get("memory", {}).get("methods", [])}
    before = next((m for name, m in memory.items() if name.startswith("rejected: unfiltered with sequential")), None)
    fixed = next((m for name, m in memory.items() if name.startswith("unfiltered: product SQL")), None)
    if before:
        values["memory_before"] = _fmt(before["p50_ms"], 1)
    if fixed:
        values["memory_fixed"] = _fmt(fixed["p50_ms"], 1)
        values["memory_fixed_recall"] = _fmt(fixed["recall_at_10"], 2)
    face = results.get("face", {}).get("sizes", [])
    if face:
        big = face[-1]
        values["face_rows"] = f"{big['rows']:,}"
        values["face_acc_ratio"] = _fmt(big["ratios"]["accuracy_vs_exact"], 3)
        values["face_overhead"] = _fmt(big["ratios"]["api_overhead_p50"][0])
        sweep = {s["ef_search"]: s for s in big.get("sweep", []) if (s["m"], s["ef_construction"]) == (16, 64)}
        for ef in (100, 200, 400):
            if ef in sweep:
                values[f"face_ef{ef}_acc"] = _fmt(sweep[ef]["accuracy_at_1"], 3)
                values[f"face_ef{ef}_p50"] = _fmt(sweep[ef]["p50_ms"])
    sig = results.get("signaling", {})
    for row in sig.get("ratios_frontdesk_over_peerjs", []):
        values[f"cpu_ratio_{row['rooms']}"] = _fmt(row.get("cpu_per_msg_saturated"), 1)
    for name, key in (("frontdesk", "fd"), ("peerjs-server", "pj"), ("frontdesk cross-instance", "x")):
        for row in sig.get("targets", {}).get(name, []):
            n = row["rooms"]
            values[f"{key}_p99_{n}"] = _fmt(row["candidate_steady"]["p99_ms"])
            values[f"{key}_sdp_p50_{n}"] = _fmt(row["sdp_steady"]["p50_ms"])
            values[f"{key}_cpu_{n}"] = _fmt(row["candidate_saturated"]["server_cpu_us_per_msg"], 0)
            values[f"{key}_tput_{n}"] = _fmt(row["candidate_saturated"]["msgs_per_s"])
            if row.get("gc"):
                values[f"gc_full_{n}"] = str(row["gc"]["full_gc_pauses"])
    ing = results.get("ingest", {}).get("ratios", {})
    if ing:
        values["ingest_ratios"] = " / ".join(f"{r['batch_over_copy'] * 100:.0f} %" for r in ing.values())
    pages = results.get("pages", {}).get("median")
    if pages:
        values["pages_first_frame"] = _fmt(pages["camera_to_first_frame_s"], 1)
        values["pages_fps"] = _fmt(pages["detection_fps"], 0)
        values["pages_ratio"] = _fmt(results["pages"]["ratios"]["detection_over_video_fps"])
    pauses = [
        r["gc"]["longest_full_gc_pause_ms"]
        for r in results.get("signaling", {}).get("targets", {}).get("frontdesk", [])
        if r.get("gc")
    ]
    if pauses:
        values["gc_longest"] = _fmt(max(pauses), 0)
    return values


# ---- the document ---------------------------------------------------------------------------------------


def render(results: dict[str, Any], images: dict[str, str]) -> str:
    out = [
        "# Benchmarks",
        "",
        (
            "Generated by `make bench` (`bench/`); do not edit by hand — rerun it. Absolute times drift between "
            "machines, so every number sits beside its floor or its peer **measured in the same run**, and the "
            "ratios are what to compare. Everything runs on 127.0.0.1: the app is `python -m frontdesk serve` in "
            "a subprocess (TLS off, access log off: `LOG_LEVEL=warning`), on an embedded PostgreSQL in a temporary "
            "data dir."
        ),
        "",
        (
            f"- Command: `{results['command']}` (size `{results['size']}`), started {results['started']}, "
            f"took {results.get('total_seconds', 0) / 60:.1f} min ({_per_bench(results)})."
        ),
        (
            "- Full run: `make bench` (= `python -m bench --size full --out docs/benchmarks.md`). "
            "A quick look: `python -m bench --size small --out /tmp/b.md`. "
            "1M faces, on a bigger machine: "
            "`python -m bench --size full --only face --face-rows 1000000 --out /tmp/b.md`."
        ),
        "",
    ]
    rows = goals(results)
    if rows:
        out += ["## Goals", "", *_table(["goal (issue 6)", "measured", ""], rows)]
    if FINDINGS.is_file():
        out += [FINDINGS.read_text().strip().format_map(_Blank(findings_values(results))), ""]
    out += machine_section(results)
    if "face" in results:
        out += face_section(results["face"], images.get("face"))
    if "memory" in results:
        out += memory_section(results["memory"])
        out += plans_section(results["memory"])
    if "ingest" in results:
        out += ingest_section(results["ingest"], images.get("ingest"))
    if "signaling" in results:
        out += signaling_section(results["signaling"], images.get("signaling"))
    if "pages" in results:
        out += pages_section(results["pages"])
    return "\n".join(out).rstrip() + "\n"


def write(results: dict[str, Any], out: Path, img_dir: Path) -> None:
    import os

    rel = os.path.relpath(img_dir, out.parent)
    images = plots(results, img_dir, rel)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, images))


if __name__ == "__main__":
    import json

    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("docs/benchmarks.md")
    write(json.loads(source.read_text()), target, target.parent / "img")
