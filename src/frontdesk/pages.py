"""The two pages: `/` (the viewer, on a laptop) and `/camera` (on a phone), and their static assets."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


async def viewer(request: Request) -> FileResponse:
    return FileResponse(STATIC_DIR / "viewer.html")


async def camera(request: Request) -> FileResponse:
    return FileResponse(STATIC_DIR / "camera.html")


def routes() -> list[BaseRoute]:
    return [
        Route("/", viewer, methods=["GET"]),
        Route("/camera", camera, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
