"""Liveness and readiness probes (public, no customer data)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from frontdesk import migrations
from frontdesk.errors import ApiError
from frontdesk.http import JSONResponse, json_response


async def healthz(request: Request) -> JSONResponse:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and its migrations are current; 503 with the reason otherwise."""
    expected = migrations.latest_version()
    try:
        row = await request.app.state.db.fetch_one("latest_migration")
    except ApiError as exc:
        return json_response({"status": "unavailable", "reason": exc.message}, 503)
    applied = row["version"] if row else None
    if applied != expected:
        reason = f"database schema is at migration {applied}, expected {expected}"
        return json_response({"status": "unavailable", "reason": reason}, 503)
    return json_response({"status": "ready", "migration": applied})


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
