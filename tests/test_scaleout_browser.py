"""Two app instances on one Postgres (SIGNALING_BACKEND=postgres), in a real Chromium: the camera page on
one instance streams to the viewer page on the other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from frontdesk.settings import Settings

from browser import RequestLog, astronaut_y4m, launch, serving, status, video_advances, wait_until
from conftest import TOKEN, with_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    requests = RequestLog()
    fake_video = astronaut_y4m(tmp_path_factory.mktemp("camera"))
    with sync_playwright() as playwright:
        context = launch(playwright, fake_video, requests)
        yield context
        context.close()
    assert requests.external == [], "the pages requested non-local URLs"


def test_a_camera_on_one_instance_streams_to_a_viewer_on_another(context: BrowserContext, settings: Settings) -> None:
    cluster = with_settings(settings, signaling_backend="postgres")
    with serving(cluster) as one, serving(cluster) as other:
        viewer = context.new_page()
        viewer.goto(f"{other.base_url}/#token={TOKEN}")
        link = str(wait_until(lambda: status(viewer).get("cameraLink"), 30, what="the viewer's camera link"))
        assert link.startswith(f"{other.base_url}/camera#room=")
        camera = context.new_page()
        camera.goto(link.replace(other.base_url, one.base_url))  # the phone lands on the other instance
        assert video_advances(viewer) > 0
        wait_until(lambda: status(camera)["state"] == "live", 20, what="the camera to say it is live")
        assert camera.locator("#status").inner_text() == "Live to 1 viewer"
        # Each page's socket really is on its own instance, and both see the one room.
        for server in (one, other):
            assert server.call(lambda app: len(app.state.signaling.members)) == 1
        assert status(camera)["room"] == status(viewer)["room"]
