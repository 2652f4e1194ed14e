"""The two pages: `/` (the viewer, on a laptop) and `/camera` (on a phone), their static assets, and the
small token-protected config the viewer needs to point a phone at this machine.

Pages are plain HTML with external ES modules, so a strict Content-Security-Policy holds: our own scripts
only (plus the WebAssembly that FaceLandmarker compiles), and `connect-src 'self'`, so no request can leave
for another host even if a dependency tried (tasks-vision 1.x posts usage telemetry; we pin 0.10.35 and
keep the policy as a second lock).
"""

from __future__ import annotations

import ipaddress
import mimetypes
import os
import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from frontdesk import tls
from frontdesk.errors import NotFound
from frontdesk.http import JSONResponse, json_response
from frontdesk.settings import Settings

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
BUNDLED_MODEL = STATIC_DIR / "vendor" / "models" / "face_landmarker.task"
MODEL_URL_PATH = "/static/models/face_landmarker.task"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    # FaceLandmarker compiles its WebAssembly: that needs 'wasm-unsafe-eval' (not 'unsafe-eval').
    "script-src 'self' 'wasm-unsafe-eval'",
    # The page's own origin only. Each page response adds its exact ws(s):// origin for the signaling
    # socket, for browsers (older WebKit) in which 'self' does not cover websockets.
    "connect-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob: mediastream:",
    "worker-src 'self' blob:",
    "style-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

# Sent with every page; assets get the ones that apply to any file.
ASSET_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
PAGE_HEADERS = {
    **ASSET_HEADERS,
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Pages are tiny and change with each release; always revalidate.
    "Cache-Control": "no-cache",
}

# Python's table may lack these on some systems; WebAssembly.instantiateStreaming insists on application/wasm.
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")


class ModelMissing(NotFound):
    code = "face_model_missing"


class SecureStaticFiles(StaticFiles):
    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(ASSET_HEADERS)
        return response


_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def content_security_policy(request: Request) -> str:
    """The policy, with the signaling socket's exact origin when the Host header is a plain host[:port]."""
    host = request.headers.get("host", "")
    if not _HOST.match(host):
        return CONTENT_SECURITY_POLICY
    socket_origin = f"{'wss' if request.url.scheme == 'https' else 'ws'}://{host}"
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", f"connect-src 'self' {socket_origin}", 1)


def _page(request: Request, name: str) -> FileResponse:
    headers = {**PAGE_HEADERS, "Content-Security-Policy": content_security_policy(request)}
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=headers)


async def viewer(request: Request) -> FileResponse:
    return _page(request, "viewer.html")


async def camera(request: Request) -> FileResponse:
    return _page(request, "camera.html")


def model_path(settings: Settings) -> Path:
    return settings.face_model_path or BUNDLED_MODEL


async def face_landmarker_model(request: Request) -> FileResponse:
    """The model the viewer loads: FACE_MODEL_PATH when set, else the copy `make assets` installed."""
    path = model_path(request.app.state.settings)
    if not path.is_file():
        hint = "set FACE_MODEL_PATH to an existing file" if request.app.state.settings.face_model_path \
            else "run 'make assets' to install it"
        raise ModelMissing(f"the face landmarker model is not installed: {hint}", {"path": path.name})
    return FileResponse(path, media_type="application/octet-stream",
                        headers={**ASSET_HEADERS, "Cache-Control": "public, max-age=86400"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def camera_base_urls(request: Request, settings: Settings) -> list[str]:
    """Origins a phone on the same network can use to reach this server, best first.

    The address the viewer used comes first when it is not loopback (it already works from the laptop's
    network); then this machine's LAN addresses when the server listens beyond loopback.
    """
    scheme = request.url.scheme
    port = request.url.port
    suffix = f":{port}" if port and port != {"http": 80, "https": 443}.get(scheme) else ""
    urls: list[str] = []
    here = request.url.hostname or ""
    if here and not _is_loopback(here):
        urls.append(f"{scheme}://{request.url.netloc}")
    if not _is_loopback(settings.host):
        urls += [f"{scheme}://{address}{suffix}" for address in tls.lan_addresses()]
    if not urls:
        urls.append(f"{scheme}://{request.url.netloc}")
    return list(dict.fromkeys(urls))


async def pages_config(request: Request) -> JSONResponse:
    """What the viewer needs beyond signaling: where a phone should open /camera. Token holders only (the
    auth middleware denies every path not on its public list), since it names this machine's addresses."""
    settings: Settings = request.app.state.settings
    body: dict[str, Any] = {
        "camera_base_urls": camera_base_urls(request, settings),
        "secure": request.url.scheme == "https",
        "face_model_url": MODEL_URL_PATH,
    }
    return json_response(body, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [
        Route("/", viewer, methods=["GET"]),
        Route("/camera", camera, methods=["GET"]),
        Route("/api/pages/config", pages_config, methods=["GET"]),
        Mount("/static", name="static", routes=[
            Route(MODEL_URL_PATH.removeprefix("/static"), face_landmarker_model, methods=["GET"]),
            Mount("/", app=SecureStaticFiles(directory=STATIC_DIR)),
        ]),
    ]

