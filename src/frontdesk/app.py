"""The one Starlette app: pages, signaling and the data API, built from a `Settings` value."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from frontdesk import api, health, migrations, observability, pages, signaling
from frontdesk.auth import TokenAuthMiddleware
from frontdesk.db import Database
from frontdesk.errors import ApiError
from frontdesk.http import json_response
from frontdesk.settings import Settings

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 422: "validation_error"}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body(), exc.status_code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": exc.detail, "detail": None}}
    return json_response(body, exc.status_code, headers=dict(exc.headers or {}))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": {"code": "internal_error", "message": "internal server error", "detail": None}}
    return json_response(body, 500)


def create_app(settings: Settings) -> Starlette:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (the CLI starts the embedded database first)")
    url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(
            migrations.migrate, url, settings.face_embedding_dim, settings.text_embedding_dim
        )
        await asyncio.to_thread(
            migrations.check_dimensions, url, settings.face_embedding_dim, settings.text_embedding_dim
        )
        db = Database(
            url,
            read_url=settings.database_read_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout,
            ef_search=settings.hnsw_ef_search,
        )
        await db.open()
        app.state.db = db
        metrics.gauge(
            "frontdesk_db_pool_connections", "Database pool connections by state",
            lambda: [({"state": state}, float(db.pool.get_stats().get(key, 0)))
                     for state, key in (("open", "pool_size"), ("idle", "pool_available"),
                                        ("waiting_requests", "requests_waiting"))],
        )
        try:
            async with signaling.lifespan(app):
                yield
        finally:
            await db.close()

    metrics = observability.Metrics()
    middleware = [
        Middleware(observability.RequestContextMiddleware, metrics=metrics),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        ),
        Middleware(TokenAuthMiddleware, tokens=settings.api_tokens),
    ]
    app = Starlette(
        routes=[*health.routes, *observability.routes, *api.routes(), *signaling.routes(), *pages.routes()],
        middleware=middleware,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    return app
