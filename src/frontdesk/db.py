"""The one database edge: a psycopg 3 async pool, named queries, and error translation.

Handlers call `db.fetch_one("query_name", params)` or open `db.transaction()`; any psycopg error is turned
into a `frontdesk.errors.ApiError` here, so no driver exception reaches a handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg
import psycopg.errors
from pgvector.psycopg import register_vector_async
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from frontdesk import errors
from frontdesk.queries import QUERIES

Row = dict[str, Any]
RECONNECT_ATTEMPT_SECONDS = 5.0
Params = dict[str, Any] | Sequence[Any] | None


def translate(exc: BaseException) -> errors.ApiError | None:
    """The project error for a driver error, or None when it is a bug that should surface as a 500."""
    if isinstance(exc, PoolTimeout | psycopg.OperationalError) and not isinstance(
        exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
    ):
        return errors.DatabaseUnavailable("the database is not reachable", str(exc).splitlines()[0] if str(exc) else None)
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return errors.Conflict("a row with the same unique key exists", _constraint(exc))
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return errors.NotFound("a referenced row does not exist", _constraint(exc))
    if isinstance(exc, psycopg.errors.CheckViolation | psycopg.errors.NotNullViolation):
        return errors.ValidationFailed("a value breaks a database constraint", _constraint(exc))
    # psycopg.DataError, not errors.DataException: the specific SQLSTATE 22xxx classes (22003 out of range,
    # 22P05 untranslatable character, ...) derive from DataError, not from the generic 22000 class.
    if isinstance(exc, psycopg.DataError):
        return errors.ValidationFailed("a value is not valid for its column", exc.diag.message_primary)
    return None


def _constraint(exc: psycopg.Error) -> dict[str, str | None]:
    return {"constraint": exc.diag.constraint_name, "table": exc.diag.table_name}


class Session:
    """A connection (usually inside a transaction) with the named-query helpers."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def execute(self, name: str, params: Params = None) -> int:
        cur = await self.conn.execute(QUERIES[name], params)
        return cur.rowcount

    async def fetch_one(self, name: str, params: Params = None) -> Row | None:
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES[name], params)
            return await cur.fetchone()

    async def fetch_all(self, name: str, params: Params = None) -> list[Row]:
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES[name], params)
            return await cur.fetchall()

    async def execute_many(self, name: str, params: Iterable[Params]) -> None:
        async with self.conn.cursor() as cur:
            await cur.executemany(QUERIES[name], params)  # type: ignore[arg-type]

    async def copy_rows(self, name: str, rows: Iterable[Sequence[Any]], types: Sequence[str]) -> None:
        """Binary COPY of `rows` with the named `COPY ... FROM STDIN (FORMAT BINARY)` statement."""
        async with self.conn.cursor() as cur, cur.copy(QUERIES[name]) as copy:
            copy.set_types(list(types))
            for row in rows:
                await copy.write_row(row)


class Database:
    """The primary pool, and optionally a read-replica pool for searches and context reads.

    Replica reads may lag the primary. Anything a consent change or an opt-out must never see undone — which
    customers may appear in a face search — is re-checked on the primary (see docs/deploy.md).
    """

    def __init__(
        self,
        url: str,
        *,
        read_url: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 2.0,
        ef_search: int = 100,
        name: str = "frontdesk",
    ) -> None:
        self.url = url
        self._ef_search = ef_search
        self.pool = self._make_pool(url, min_size, max_size, timeout, name)
        self.read_pool = self._make_pool(read_url, min_size, max_size, timeout, name + "-read") if read_url else None

    def _make_pool(
        self, url: str, min_size: int, max_size: int, timeout: float, name: str
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        return AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            configure=self._configure,
            check=AsyncConnectionPool.check_connection,
            # A dead database should cost a request ~timeout seconds, never a hang in connect().
            kwargs={"connect_timeout": max(1, round(timeout))},
            # psycopg_pool doubles its reconnect delay without bound while an attempt lasts; ending an attempt
            # after a few seconds keeps retries ~1-4 s apart (a request starts a fresh attempt), so the app is
            # back within seconds of a long database outage instead of minutes.
            reconnect_timeout=RECONNECT_ATTEMPT_SECONDS,
            name=name,
        )

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await register_vector_async(conn)
        await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(self._ef_search),))
        await conn.commit()

    async def open(self, wait: bool = False) -> None:
        await self.pool.open(wait=wait)
        if self.read_pool is not None:
            await self.read_pool.open(wait=wait)

    async def close(self) -> None:
        await self.pool.close()
        if self.read_pool is not None:
            await self.read_pool.close()

    @asynccontextmanager
    async def _session(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> AsyncIterator[Session]:
        try:
            async with pool.connection() as conn:
                yield Session(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            translated = translate(exc)
            if translated is None:
                raise
            raise translated from exc

    def session(self) -> AbstractAsyncContextManager[Session]:
        """A primary connection; the work done in it is one transaction, committed when the block ends
        without error."""
        return self._session(self.pool)

    transaction = session

    def read_session(self) -> AbstractAsyncContextManager[Session]:
        """A connection for reads that may lag (the replica when DATABASE_READ_URL is set)."""
        return self._session(self.read_pool or self.pool)

    async def execute(self, name: str, params: Params = None) -> int:
        async with self.session() as s:
            return await s.execute(name, params)

    async def fetch_one(self, name: str, params: Params = None) -> Row | None:
        async with self.session() as s:
            return await s.fetch_one(name, params)

    async def fetch_all(self, name: str, params: Params = None) -> list[Row]:
        async with self.session() as s:
            return await s.fetch_all(name, params)
