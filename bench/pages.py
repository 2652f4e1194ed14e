"""The pages in headless Chromium with a fake camera (the test suite's helpers, tests/browser.py): seconds
from opening `/` and `/camera` to the first decoded frame on the viewer, to the first face found, and the
viewer's face-landmark frames per second beside the video's own frame rate."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import services
from frontdesk.settings import Settings

sys.path.insert(0, str(services.ROOT / "tests"))


@dataclass(frozen=True)
class PagesSize:
    runs: int
    fps_seconds: float


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def run(pg: services.Postgres, size: PagesSize, logs: Path, progress: Any) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from browser import RequestLog, astronaut_y4m, frames_decoded, launch, serving, status, wait_until

    url = pg.create("bench_pages")
    settings = Settings(
        database_url=url,
        api_tokens=(services.TOKEN,),
        tls="off",
        data_dir=logs / "pages-data",
        host="127.0.0.1",
        port=0,
    )
    runs: list[dict[str, float]] = []
    try:
        fake_video = astronaut_y4m(logs)
        with sync_playwright() as playwright, serving(settings) as server:
            requests = RequestLog()
            context = launch(playwright, fake_video, requests)
            try:
                for index in range(size.runs):
                    opened = time.perf_counter()
                    viewer = context.new_page()
                    viewer.goto(f"{server.base_url}/#token={services.TOKEN}")
                    link = wait_until(lambda page=viewer: status(page).get("cameraLink"), 60, 0.02, "the camera link")
                    linked = time.perf_counter()
                    camera = context.new_page()
                    camera_opened = time.perf_counter()
                    camera.goto(str(link))
                    wait_until(lambda page=viewer: frames_decoded(page) > 0, 60, 0.02, "a decoded frame")
                    first_frame = time.perf_counter()
                    viewer.bring_to_front()  # a background tab's video callbacks are throttled
                    wait_until(lambda page=viewer: status(page).get("faces"), 60, 0.05, "a face")
                    first_face = time.perf_counter()
                    detection, video = [], []
                    end = time.perf_counter() + size.fps_seconds
                    while time.perf_counter() < end:
                        time.sleep(1.0)
                        detection.append(float(status(viewer).get("detectionFps") or 0))
                        stats = viewer.evaluate("async () => await window.frontdesk.videoStats()") or {}
                        video.append(float(stats.get("framesPerSecond") or 0))
                    skip = len(detection) // 3  # the first seconds ramp up
                    runs.append(
                        {
                            "viewer_to_link_s": linked - opened,
                            "viewer_to_first_frame_s": first_frame - opened,
                            "camera_to_first_frame_s": first_frame - camera_opened,
                            "camera_to_first_face_s": first_face - camera_opened,
                            "detection_fps": statistics.mean(detection[skip:]) if detection else 0.0,
                            "video_fps": statistics.mean(video[skip:]) if video else 0.0,
                        }
                    )
                    progress(
                        f"pages run {index + 1}: first frame {runs[-1]['camera_to_first_frame_s']:.2f} s after "
                        f"/camera, detection {runs[-1]['detection_fps']:.1f} fps"
                    )
                    camera.close()
                    viewer.close()
            finally:
                context.close()
            if requests.external:
                raise RuntimeError(f"the pages requested non-local URLs: {requests.external[:3]}")
    finally:
        pg.drop("bench_pages")
    keys = runs[0].keys() if runs else []
    medians = {key: _median([r[key] for r in runs]) for key in keys}
    ratio = round(medians["detection_fps"] / medians["video_fps"], 2) if runs and medians["video_fps"] else None
    return {
        "runs": runs,
        "median": medians,
        "ratios": {"detection_over_video_fps": ratio},
        "chromium": _chromium_version(),
    }


def _chromium_version() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.strip()
