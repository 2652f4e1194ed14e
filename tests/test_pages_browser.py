"""The pages in a real Chromium: a fake camera plays a photo of a face on /camera, the viewer on / receives it
over WebRTC and finds the face with FaceLandmarker; reconnects of every kind bring the video back; errors
are shown, not a black screen; and no request leaves this machine."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import BrowserContext, Page, sync_playwright

from frontdesk.settings import Settings

from browser import (
    ASTRONAUT_FACE_CENTRE,
    RequestLog,
    ThreadedServer,
    astronaut_y4m,
    contain,
    frames_decoded,
    launch,
    overlay_ink,
    status,
    video_advances,
    wait_until,
)
from conftest import TOKEN, with_settings

pytestmark = pytest.mark.browser

# FRONTDESK_SCREENSHOTS=docs/img refreshes the README's screenshots from a real run.
SCREENSHOTS = os.environ.get("FRONTDESK_SCREENSHOTS")


@pytest.fixture(scope="module")
def requests() -> RequestLog:
    return RequestLog()


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory, requests: RequestLog) -> Iterator[BrowserContext]:
    """One Chromium for the module; each test opens its own pages."""
    fake_video = astronaut_y4m(tmp_path_factory.mktemp("camera"))
    with sync_playwright() as playwright:
        context = launch(playwright, fake_video, requests)
        yield context
        context.close()


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(requests: RequestLog) -> Iterator[None]:
    yield
    assert requests.external == [], "the pages requested non-local URLs"


@pytest.fixture
def app(settings: Settings, context: BrowserContext) -> Iterator[ThreadedServer]:
    server = ThreadedServer(settings)
    server.start()
    yield server
    for page in context.pages:
        page.close()
    server.stop()


def open_viewer(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    return page


def camera_link(viewer: Page) -> str:
    return str(wait_until(lambda: status(viewer).get("cameraLink"), 30, what="the viewer's camera link"))


def open_camera(context: BrowserContext, link: str) -> Page:
    page = context.new_page()
    page.goto(link)
    return page


def qr_text(page: Page) -> str:
    image = Image.open(io.BytesIO(page.locator("#qr").screenshot()))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "the QR code does not scan"
    return str(found[0].text)


def faces(viewer: Page) -> list[dict[str, object]]:
    return status(viewer).get("faces") or []


def test_the_phone_video_reaches_the_viewer_with_the_face_found_where_it_is(
    context: BrowserContext, app: ThreadedServer, requests: RequestLog
) -> None:
    viewer = open_viewer(context, f"{app.base_url}/#token={TOKEN}")
    link = camera_link(viewer)
    # The token is stored once and leaves the address bar (and the history entry).
    assert viewer.url == f"{app.base_url}/"
    assert viewer.evaluate("() => localStorage.getItem('frontdesk.token')") == TOKEN
    # The QR code scans to the link; the link carries room and key in the fragment, never sent to a server.
    assert qr_text(viewer) == link
    assert link.startswith(f"{app.base_url}/camera#room=") and "&key=" in link

    camera = open_camera(context, link)
    assert video_advances(viewer) > 0
    viewer.bring_to_front()  # a background tab's video callbacks are throttled
    found = wait_until(lambda: faces(viewer), 60, what="a face")
    assert len(found) == 1
    assert found[0]["landmarks"] == 478
    box = found[0]["box"]
    assert isinstance(box, dict)
    centre = ((box["xMin"] + box["xMax"]) / 2, (box["yMin"] + box["yMax"]) / 2)
    assert abs(centre[0] - ASTRONAUT_FACE_CENTRE[0]) < 0.05 and abs(centre[1] - ASTRONAUT_FACE_CENTRE[1]) < 0.05
    assert 0.30 < box["xMin"] < box["xMax"] < 0.58 and 0.10 < box["yMin"] < box["yMax"] < 0.40

    # The overlay's box sits on the face in the picture at any window size (the video is letterboxed).
    for width, height in ((1280, 800), (600, 900)):
        viewer.set_viewport_size({"width": width, "height": height})
        viewer.wait_for_timeout(600)  # a few detections redraw at the new size
        box, ink = faces(viewer)[0]["box"], overlay_ink(viewer)
        assert isinstance(box, dict)
        x, y, w, h = contain(ink["width"], ink["height"], ink["videoWidth"], ink["videoHeight"])
        assert abs(ink["left"] - (x + box["xMin"] * w)) <= 3, (width, height, ink)
        assert abs(ink["bottom"] - (y + box["yMax"] * h)) <= 3, (width, height, ink)
        assert ink["right"] >= x + box["xMax"] * w - 3, (width, height, ink)
    viewer.set_viewport_size({"width": 1280, "height": 800})

    wait_until(lambda: status(camera)["state"] == "live", 10, what="the camera to say it is live")
    assert camera.locator("#status").inner_text() == "Live to 1 viewer"
    wait_until(lambda: viewer.locator("#face-count").inner_text() == "1", 5, what="the face count on screen")
    wait_until(lambda: viewer.locator("#video-size").inner_text() == "512×512", 5, what="the video size on screen")
    assert viewer.locator("#video-codec").inner_text() in ("VP8", "VP9", "H264", "AV1")
    # The log saw the page's real traffic (the model, the WASM), so an empty external list means something.
    assert any(url.endswith("/static/models/face_landmarker.task") for url in requests.urls)
    assert any(url.endswith(".wasm") for url in requests.urls)

    if SCREENSHOTS:
        wait_until(lambda: status(viewer)["detectionFps"] >= 5, 20, what="steady detection")
        viewer.screenshot(path=str(Path(SCREENSHOTS) / "viewer.png"))
        camera.set_viewport_size({"width": 390, "height": 780})
        camera.bring_to_front()
        camera.screenshot(path=str(Path(SCREENSHOTS) / "camera.png"))


def test_two_viewers_both_receive_video_and_every_reconnect_resumes_it(
    context: BrowserContext, app: ThreadedServer
) -> None:
    first = open_viewer(context, f"{app.base_url}/#token={TOKEN}")
    link = camera_link(first)
    camera = open_camera(context, link)
    video_advances(first)
    room = status(first)["room"]

    second = open_viewer(context, f"{app.base_url}/#room={room}")  # signed in already: the token is stored
    video_advances(second)
    video_advances(first)
    wait_until(lambda: camera.locator("#status").inner_text() == "Live to 2 viewers", 20, what="2 viewers")

    second.close()  # leaves the room at once, so the phone drops that connection
    wait_until(lambda: camera.locator("#status").inner_text() == "Live to 1 viewer", 20, what="1 viewer")

    first.reload()  # the tab rejoins its room, and the phone offers it a fresh connection
    assert camera_link(first) == link
    video_advances(first)

    camera.reload()  # the phone comes back with a new connection; the viewer replaces its old one
    video_advances(first)
    wait_until(lambda: status(camera)["state"] == "live", 20, what="the camera live again")

    # The server drops every signaling socket (as a network change or a locked phone does): both pages
    # reconnect with their resume tokens and keep their identities, and the video connection is untouched.
    before = frames_decoded(first)
    identities = [(status(page)["room"], status(page)["peerId"], status(page)["joins"]) for page in (first, camera)]
    app.call(lambda a: [member.go_away() for member in list(a.state.signaling.members)])
    for page, (room_was, peer_was, joins_was) in zip((first, camera), identities, strict=True):
        now = wait_until(lambda p=page, j=joins_was: (s := status(p))["joins"] > j and s["signaling"] == "joined" and s,
                         30, what="a resumed join")
        assert (now["room"], now["peerId"], now["resumed"]) == (room_was, peer_was, True)
    wait_until(lambda: frames_decoded(first) > before, 30, what="video after the signaling drop")

    # The app restarts and forgets its rooms (they live in memory): both pages reconnect by themselves, the
    # phone has a viewer open a new room over their peer connection and moves there, and the video keeps
    # going on the same connection (its frame count keeps growing), with no reload and no new QR scan.
    before = frames_decoded(first)
    app.restart()
    wait_until(lambda: status(first)["signaling"] == "joined" and status(camera)["signaling"] == "joined", 60,
               what="both pages joined again after the restart")
    moved_to = status(first)["room"]
    assert moved_to != room
    assert f"room={moved_to}&" in camera.url  # a later reload of the phone page goes to the new room
    wait_until(lambda: frames_decoded(first) > before, 30, what="video after the restart")
    video_advances(first)
    wait_until(lambda: camera.locator("#status").inner_text() == "Live to 1 viewer", 20, what="live again")

    camera.reload()  # signaling works in the new room: the phone reconnects there from its updated link
    video_advances(first)


def test_an_app_restart_with_rooms_in_postgres_resumes_both_pages_in_place(
    context: BrowserContext, settings: Settings
) -> None:
    """With SIGNALING_BACKEND=postgres the rooms outlive the process: both pages come back as themselves."""
    app = ThreadedServer(with_settings(settings, signaling_backend="postgres"))
    app.start()
    try:
        viewer = open_viewer(context, f"{app.base_url}/#token={TOKEN}")
        camera = open_camera(context, camera_link(viewer))
        video_advances(viewer)
        before = frames_decoded(viewer)
        identities = [(status(page)["room"], status(page)["peerId"], status(page)["joins"]) for page in (viewer, camera)]
        app.restart()
        for page, (room_was, peer_was, joins_was) in zip((viewer, camera), identities, strict=True):
            now = wait_until(lambda p=page, j=joins_was: (s := status(p))["joins"] > j and s["signaling"] == "joined"
                             and s, 60, what="a resumed join after the restart")
            assert (now["room"], now["peerId"], now["resumed"]) == (room_was, peer_was, True)
        wait_until(lambda: frames_decoded(viewer) > before, 30, what="video after the restart")
    finally:
        for page in context.pages:
            page.close()
        app.stop()


def test_a_wrong_key_a_bad_link_and_a_bad_token_each_say_what_is_wrong(
    context: BrowserContext, app: ThreadedServer
) -> None:
    viewer = open_viewer(context, f"{app.base_url}/#token={TOKEN}")
    link = camera_link(viewer)
    wrong_key = link.split("&key=")[0] + "&key=not-the-key"
    camera = open_camera(context, wrong_key)
    wait_until(lambda: status(camera)["state"] == "error", 20, what="the camera to show an error")
    assert camera.locator("#message").is_visible()
    assert camera.locator("#message-title").inner_text() == "This camera link is not valid"
    assert "scan its QR code again" in camera.locator("#message-body").inner_text()
    assert frames_decoded(viewer) == 0

    bare = open_camera(context, f"{app.base_url}/camera")
    wait_until(lambda: status(bare)["state"] == "error", 10, what="the bare camera page to explain")
    assert bare.locator("#message-title").inner_text() == "Open this page from the viewer"

    # The camera permission denied: say so and how to fix it, not a black preview.
    context.clear_permissions()
    try:
        denied = open_camera(context, link)
        wait_until(lambda: status(denied)["state"] == "error", 10, what="the permission error")
    finally:
        context.grant_permissions(["camera"])
    assert denied.locator("#message-title").inner_text() == "Camera access is blocked"
    assert denied.locator("#retry").is_visible()

    stranger = context.new_page()
    stranger.goto(f"{app.base_url}/#token=wrong-token")
    wait_until(lambda: stranger.locator("#sign-in-error").is_visible(), 10, what="the sign-in error")
    assert "not accepted" in stranger.locator("#sign-in-error").inner_text()
    assert stranger.evaluate("() => localStorage.getItem('frontdesk.token')") is None
