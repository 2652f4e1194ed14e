"""Real parts for every test: an embedded PostgreSQL + pgvector for the session, a database cloned from a
migrated template for each test, and the app served by a real uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import psycopg
import pytest
import uvicorn
from psycopg import sql
from starlette.applications import Starlette

from frontdesk import embedded, migrations
from frontdesk.app import create_app
from frontdesk.settings import Settings

TOKEN = "test-token-" + "x" * 32
TEMPLATE = "frontdesk_template"


@pytest.fixture(scope="session")
def pg() -> Iterator[embedded.EmbeddedPostgres]:
    # A folder of its own, outside pytest's basetemp: a second pytest run on the machine prunes old basetemp
    # folders, and must not delete this session's database under it.
    folder = Path(tempfile.mkdtemp(prefix="frontdesk-test-pg-"))
    server = embedded.start(folder / "data", delete_on_stop=True)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_pg(tmp_path: Path) -> Iterator[embedded.EmbeddedPostgres]:
    """A PostgreSQL of this test's own, for tests that stop and start the database under a running app."""
    server = embedded.start(tmp_path / "own-pg", delete_on_stop=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_url(pg: embedded.EmbeddedPostgres) -> str:
    return pg.url("postgres")


def create_database(admin_url: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_url(pg: embedded.EmbeddedPostgres, admin_url: str) -> str:
    """A database migrated once per session with the default dimensions; tests clone it."""
    drop_database(admin_url, TEMPLATE)
    create_database(admin_url, TEMPLATE)
    url = pg.url(TEMPLATE)
    migrations.migrate(url, 512, 1536)
    return url


@pytest.fixture
def new_database(pg: embedded.EmbeddedPostgres, admin_url: str) -> Iterator[Callable[..., str]]:
    """Make a database for this test (empty, or cloned from the migrated template); dropped afterwards."""
    made: list[str] = []

    def make(template: bool = True) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        create_database(admin_url, name, TEMPLATE if template else None)
        made.append(name)
        return pg.url(name)

    yield make
    for name in made:
        drop_database(admin_url, name)


@pytest.fixture
def database_url(template_url: str, new_database: Callable[..., str]) -> str:
    return new_database(template=True)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        api_tokens=(TOKEN,),
        tls="off",
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        pool_timeout=2.0,
    )


@dataclass
class LiveServer:
    app: Starlette
    settings: Settings
    base_url: str
    ws_url: str

    def client(self, token: str | None = TOKEN, **kwargs: object) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[LiveServer]:
    """Serve create_app(settings) with a real uvicorn on a free loopback port, in this event loop."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws_max_size=settings.max_frame_bytes
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error here
            raise RuntimeError("uvicorn exited during startup")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(app, settings, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task


ServerFactory = Callable[[Settings], AbstractAsyncContextManager[LiveServer]]


@pytest.fixture
def start_server() -> ServerFactory:
    return serve


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serve(settings) as live:
        yield live


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as http:
        yield http


def with_settings(settings: Settings, **changes: object) -> Settings:
    return msgspec.structs.replace(settings, **changes)
