"""The real `python -m frontdesk serve` in a subprocess, for tests of what only the process does: signals,
its logging, the embedded Postgres it starts and stops, TLS."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from browser import free_port
from conftest import TOKEN


@contextmanager
def frontdesk_process(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """(process, port, log file); API_TOKENS is the tests' token, TLS off unless `env` says otherwise."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_READ_URL")}
    environ.update(HOST="127.0.0.1", PORT=str(port), TLS="off", API_TOKENS=TOKEN, LOG_LEVEL="debug")
    environ.update(env)
    log = tmp_path / "frontdesk.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve"], cwd=tmp_path, env=environ, stdout=out, stderr=out
        )
    try:
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def until_healthy(proc: subprocess.Popen[bytes], base_url: str, log: Path, **client: object) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2, **client) as http, asyncio.timeout(120):  # type: ignore[arg-type]
        while True:
            assert proc.poll() is None, await asyncio.to_thread(log.read_text)
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
