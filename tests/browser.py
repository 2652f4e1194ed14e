"""Helpers for the browser tests: Debian's Chromium driven by Playwright, a fake camera that plays a real
face photo, and the app served by uvicorn in a thread (so sync Playwright can drive it, and a test can
stop and restart the server on the same port)."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import uvicorn
from playwright.sync_api import BrowserContext, Page, Playwright, Route
from starlette.applications import Starlette

from frontdesk.app import create_app
from frontdesk.settings import Settings

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Raw host candidates instead of mDNS names: no multicast lookups leave the machine.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
T = TypeVar("T")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

# Where the astronaut's face is in skimage.data.astronaut(), normalized to the frame (measured once with
# FaceLandmarker; the landmarks' bounding box is x 0.353-0.528, y 0.139-0.348).
ASTRONAUT_FACE_CENTRE = (0.44, 0.24)


def rgb_to_i420(rgb: np.ndarray) -> bytes:
    """Full-range BT.601 (JPEG) YCbCr 4:2:0, the C420jpeg layout of a Y4M frame."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    h, w = y.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def to_bytes(plane: np.ndarray) -> bytes:
        return np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes()

    return to_bytes(y) + to_bytes(half(cb)) + to_bytes(half(cr))


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 30, fps: int = 30) -> Path:
    """A still photo as a Y4M clip, which Chromium's fake capture device plays in a loop."""
    h, w = rgb.shape[:2]
    frame = rgb_to_i420(rgb)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)
    return path


def astronaut_y4m(directory: Path) -> Path:
    from skimage import data  # imported here: only the browser tests need scikit-image

    return write_y4m(directory / "astronaut.y4m", data.astronaut())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """create_app(settings) under a real uvicorn in its own thread and event loop, on a fixed port."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.app: Starlette | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
            ws_max_size=self.settings.max_frame_bytes,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._error = None

        def run() -> None:
            try:
                asyncio.run(self._serve(server))
            except Exception as exc:  # reported to the test thread by start()
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}") from self._error
            time.sleep(0.02)

    async def _serve(self, server: uvicorn.Server) -> None:
        self._loop = asyncio.get_running_loop()
        await server.serve()

    def call(self, function: Callable[[Starlette], T], timeout: float = 10.0) -> T:
        """Run `function(app)` in the server's event loop (where the app's state lives) and return its result."""
        assert self._loop is not None and self.app is not None, "the server is not running"
        app = self.app

        async def run() -> T:
            return function(app)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("uvicorn did not stop")
        self._server = self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def serving(settings: Settings) -> Iterator[ThreadedServer]:
    server = ThreadedServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RequestLog:
    """Every request the pages make; any request to another host is aborted and remembered."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.external: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        self.urls.append(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(f"{route.request.method} {url}")
            route.abort()


def launch(playwright: Playwright, fake_video: Path, requests: RequestLog) -> BrowserContext:
    """A persistent context (Chromium refuses --user-data-dir through launch()) with a fake camera, and the
    camera permission granted (context.clear_permissions() makes the next request fail as if denied)."""
    context = playwright.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="frontdesk-chromium-"),
        executable_path=CHROMIUM,
        headless=True,
        args=[*FLAGS, "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={fake_video}"],
        permissions=["camera"],
        viewport={"width": 1280, "height": 800},
    )
    context.route("**/*", requests.route)
    return context


def status(page: Page) -> dict[str, Any]:
    """The page's window.frontdesk status (functions left out)."""
    return page.evaluate("() => JSON.parse(JSON.stringify(window.frontdesk || {}))")  # type: ignore[no-any-return]


def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> Any:
    """Poll `check` until it returns something truthy. (page.wait_for_function evaluates a string, which
    the pages' CSP forbids, so tests poll from Python.)"""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or check}; last value: {last!r}")


def frames_decoded(page: Page) -> int:
    stats = page.evaluate("async () => window.frontdesk ? await window.frontdesk.videoStats() : null")
    return int(stats["framesDecoded"]) if stats and stats.get("framesDecoded") else 0


def video_advances(page: Page, timeout: float = 30.0) -> int:
    """Wait until the viewer decodes new frames (not just a number left from before); returns the count."""
    start = frames_decoded(page)
    return int(wait_until(lambda: (n := frames_decoded(page)) > start and n, timeout, what="decoded frames"))


# Where the overlay drew its box colour, in canvas pixels, and the sizes needed to predict it.
_OVERLAY_INK = """() => {
  const canvas = document.querySelector("#overlay");
  const video = document.querySelector("#video");
  const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let left = Infinity, top = Infinity, right = -1, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (data[i + 3] > 200 && Math.abs(data[i] - 45) < 24 && Math.abs(data[i + 1] - 212) < 24
          && Math.abs(data[i + 2] - 191) < 24) {
        left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
    }
  }
  return { left, top, right, bottom, width, height, videoWidth: video.videoWidth, videoHeight: video.videoHeight };
}"""


def overlay_ink(page: Page) -> dict[str, float]:
    return page.evaluate(_OVERLAY_INK)  # type: ignore[no-any-return]


def contain(box_w: float, box_h: float, src_w: float, src_h: float) -> tuple[float, float, float, float]:
    """object-fit: contain: the (x, y, width, height) a picture takes inside a box."""
    scale = min(box_w / src_w, box_h / src_h)
    return (box_w - src_w * scale) / 2, (box_h - src_h * scale) / 2, src_w * scale, src_h * scale
