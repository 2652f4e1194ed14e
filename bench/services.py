"""What the benches run against, all on 127.0.0.1 and all stopped at the end: an embedded PostgreSQL in its
own temporary data dir, the app served by `python -m frontdesk serve` in a subprocess (TLS off, so the HTTP
numbers are the app's and not the handshake's), and peerjs-server from bench/node_modules."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from frontdesk import embedded, migrations

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TOKEN = "bench-token-" + "b" * 32
FACE_DIM, TEXT_DIM = 512, 1536
# The bench's own cluster only: enough shared buffers to hold a 100k x 1536-d HNSW index (the default,
# 128 MB, measures the disk cache instead), and memory for index builds to stay in RAM.
POSTGRES_SETTINGS = {"shared_buffers": "1GB"}
BUILD_MEMORY = "2GB"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """The embedded server plus helpers to make, migrate and connect to databases on it."""

    def __init__(self, data_dir: Path) -> None:
        self.server = embedded.start(data_dir / "pg", delete_on_stop=True)
        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            for name, value in POSTGRES_SETTINGS.items():
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        self.server.pause()  # shared_buffers takes a restart
        self.server.resume()

    def url(self, database: str = "postgres") -> str:
        return self.server.url(database)

    def create(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = self.url(name)
        migrations.migrate(url, FACE_DIM, TEXT_DIM)
        return url

    def drop(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def versions(self) -> dict[str, str]:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            version = conn.execute("SHOW server_version").fetchone()
            vector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            buffers = conn.execute("SHOW shared_buffers").fetchone()
        return {
            "postgres": str(version[0] if version else "?"),
            "pgvector": str(vector[0] if vector else "?"),
            "shared_buffers": str(buffers[0] if buffers else "?"),
        }

    def cpu_seconds(self) -> float:
        """CPU time used so far by the postmaster and its live backends (a backend's time is lost when it
        exits, so read this around work done on connections that stay open)."""
        pid_file = self.server.data_dir / "postmaster.pid"
        main = psutil.Process(int(pid_file.read_text().split()[0]))
        total = 0.0
        for process in [main, *main.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        self.server.stop()


def connect(url: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=autocommit)
    register_vector(conn)
    return conn


class Process:
    """A server subprocess: its pid for RSS readings, stopped with SIGINT (then SIGKILL) at the end."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            args, env=dict(env), stdout=self._log_file, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        """User + system CPU time this process has used so far."""
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if self.running():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log_file.close()


def wait_http(url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"{process.name} exited during startup:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not answer {url} within {timeout:.0f} s:\n{process.tail()}")


class App:
    def __init__(self, process: Process, port: int) -> None:
        self.process, self.port = process, port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"


@contextmanager
def apps(database_url: str, logs: Path, names: list[str], **env: str) -> Iterator[list[App]]:
    """`python -m frontdesk serve` once per name, each on a free loopback port, started side by side;
    `env` adds settings (e.g. HNSW_EF_SEARCH)."""
    started: list[App] = []
    try:
        for name in names:
            port = free_port()
            settings = {
                "DATABASE_URL": database_url,
                "API_TOKENS": TOKEN,
                "TLS": "off",
                "HOST": "127.0.0.1",
                "PORT": str(port),
                # Access logs off: a log line per request is a deployment choice, not the app's cost.
                "LOG_LEVEL": "warning",
                "DATA_DIR": str(logs / f"{name}-data"),
                "POOL_MAX_SIZE": "20",
                **env,
            }
            environ = {
                k: v
                for k, v in os.environ.items()
                if k not in settings and not k.startswith("FRONTDESK") and k != "PYTHONPATH"
            }
            command = [sys.executable, "-m", "frontdesk", "serve"]
            started.append(App(Process(name, command, {**environ, **settings}, logs / f"{name}.log"), port))
        for app_ in started:
            wait_http(f"{app_.base_url}/healthz", app_.process)
        yield started
    finally:
        for app_ in started:
            app_.process.stop()


@contextmanager
def app(database_url: str, logs: Path, name: str = "app", **env: str) -> Iterator[App]:
    """One `python -m frontdesk serve` (see `apps`)."""
    with apps(database_url, logs, [name], **env) as (only,):
        yield only


PEERJS_DIR = BENCH / "node_modules" / "peer"


def install_peerjs() -> None:
    """npm ci from bench/package-lock.json (pinned), once; install scripts off."""
    if (PEERJS_DIR / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the signaling bench needs Node.js + npm for peerjs-server ('apt-get install npm')")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--silent"], cwd=BENCH, check=True)


def peerjs_version() -> str:
    import json

    return str(json.loads((PEERJS_DIR / "package.json").read_text())["version"])


@contextmanager
def peerjs(logs: Path) -> Iterator[App]:
    """peerjs-server as users start it (its own `peerjs` command), on a free loopback port."""
    install_peerjs()
    node = shutil.which("node")
    assert node is not None
    port = free_port()
    args = [
        node,
        str(PEERJS_DIR / "dist" / "bin" / "peerjs.js"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--key",
        "peerjs",
        "--path",
        "/",
        "--concurrent_limit",
        "100000",
    ]
    process = Process("peerjs", args, os.environ, logs / "peerjs.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/", process)
        yield App(process, port)
    finally:
        process.stop()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    model = "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    node = shutil.which("node")
    node_version = (
        subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip() if node else "-"
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node_version,
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }
