"""Loaded by the app under test through PYTHONPATH (bench/signaling.py sets it; nothing else does): records
every cyclic-GC pass (generation, duration) and writes a summary to $FRONTDESK_GC_PROBE twice a second, so
the report can show how long the garbage collector stops the whole event loop with N sockets open."""

import gc
import json
import os
import threading
import time

_out = os.environ.get("FRONTDESK_GC_PROBE")
_counts = [0, 0, 0]
_seconds = [0.0, 0.0, 0.0]
_full_pauses_ms: list[float] = []
_started = [0.0]


def _callback(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    took = time.perf_counter() - _started[0]
    generation = info["generation"]
    _counts[generation] += 1
    _seconds[generation] += took
    if generation == 2:
        _full_pauses_ms.append(round(took * 1000, 2))


def _write() -> None:
    while True:
        time.sleep(0.5)
        summary = {"counts": _counts, "seconds": [round(s, 4) for s in _seconds], "full_pauses_ms": _full_pauses_ms}
        tmp = _out + ".tmp"
        with open(tmp, "w") as file:
            json.dump(summary, file)
        os.replace(tmp, _out)


if _out:
    gc.callbacks.append(_callback)
    threading.Thread(target=_write, name="gc-probe", daemon=True).start()
