"""`make load` in miniature, so the load command never rots: a few API clients and signaling rooms for a few
seconds against the real `python -m frontdesk serve`, then its own checks — no 5xx, every acknowledged row
in the database, every relay delivered. The numbers of the full run are in docs/reliability.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_small_load_loses_nothing_and_answers_no_5xx(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    command = [sys.executable, "-m", "bench.load", "--clients", "8", "--rooms", "8", "--seconds", "3", "--think", "0",
               "--database-url", database_url, "--out", str(out), "--check"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["http_5xx"] == 0 and result["server_counted_5xx"] == 0
    assert all(w["rows_found"] == w["rows_acknowledged"] > 0 for w in result["writes"].values()), result["writes"]
    assert set(result["operations"]) == {"face batch", "memory batch", "preference batch", "transcript batch",
                                         "face search", "memory search", "context"}
    assert result["signaling"]["relayed_frames"] > 0 and result["signaling"]["round_trips_lost"] == 0
    assert result["app_rss_mib"]["before"] > 0
