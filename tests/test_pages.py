"""The pages over HTTP: security headers, only our own assets, the model, and the viewer's private config."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from frontdesk import face_model, tls
from frontdesk.pages import STATIC_DIR
from frontdesk.settings import Settings

from conftest import LiveServer, ServerFactory, with_settings

PAGES = ["/", "/camera"]


class AssetParser(HTMLParser):
    """Collects what a page loads, and anything inline that a strict CSP would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}={value!r}")
            if name in ("src", "href") and value:
                self.assets.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data.strip()[:40]}")


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_a_strict_content_security_policy_and_security_headers(
    server: LiveServer, path: str
) -> None:
    async with server.client(token=None) as http:
        response = await http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = dict(
        (directive.split(" ", 1) + [""])[:2] for directive in response.headers["content-security-policy"].split("; ")
    )
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self' 'wasm-unsafe-eval'"  # WebAssembly, but no eval and no inline script
    # Nothing can be sent to another host: our origin, and its websocket form for the signaling socket.
    assert csp["connect-src"] == f"'self' {server.ws_url}"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "camera=(self)" in response.headers["permissions-policy"]


async def test_a_strange_host_header_cannot_add_to_the_policy(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        response = await http.get("/", headers={"Host": "evil.example; connect-src *"})
    assert "connect-src 'self'; " in response.headers["content-security-policy"]
    assert "evil" not in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_load_only_their_own_assets_and_nothing_inline(server: LiveServer, path: str) -> None:
    async with server.client(token=None) as http:
        page = AssetParser()
        page.feed((await http.get(path)).text)
        assert page.inline == []
        assert page.scripts and all(s.get("type") == "module" and (s.get("src") or "").startswith("/static/")
                                    for s in page.scripts)
        for asset in page.assets:
            assert asset.startswith("/static/"), asset
            response = await http.get(asset)
            assert response.status_code == 200, asset
            assert response.headers["x-content-type-options"] == "nosniff"


def test_our_modules_import_only_our_own_files() -> None:
    """No CDN, no bare npm specifier: every import is a relative or /static/ path, and no URL names a host."""
    for module in sorted((STATIC_DIR / "js").glob("*.js")):
        source = module.read_text()
        for specifier in re.findall(r"""(?:import|from)\s*\(?\s*[`"']([^`"']+)[`"']""", source):
            assert specifier.startswith(("./", "/static/")), f"{module.name} imports {specifier}"
        assert not re.search(r"(?:https?|wss?)://[\w.-]", source), f"{module.name} names an absolute URL"


async def test_webassembly_and_modules_have_the_types_browsers_insist_on(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        wasm = await http.get("/static/vendor/tasks-vision/wasm/vision_wasm_internal.wasm")
        bundle = await http.get("/static/vendor/tasks-vision/vision_bundle.mjs")
        ours = await http.get("/static/js/viewer.js")
        outside = await http.get("/static/..%2Fpyproject.toml")  # a traversal the client does not normalize
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert ours.headers["content-type"].startswith("text/javascript")
    assert outside.status_code == 404


async def test_the_face_model_is_the_pinned_file(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        response = await http.get("/static/models/face_landmarker.task")
    assert response.status_code == 200
    assert len(response.content) == face_model.SIZE
    assert hashlib.sha256(response.content).hexdigest() == face_model.SHA256


async def test_face_model_path_serves_a_deployments_own_copy(
    settings: Settings, start_server: ServerFactory, tmp_path: Path
) -> None:
    own = tmp_path / "my_landmarker.task"
    own.write_bytes(b"a deployment's own model")
    async with start_server(with_settings(settings, face_model_path=own)) as live, live.client(token=None) as http:
        assert (await http.get("/static/models/face_landmarker.task")).content == own.read_bytes()
    missing = with_settings(settings, face_model_path=tmp_path / "absent.task")
    async with start_server(missing) as live, live.client(token=None) as http:
        response = await http.get("/static/models/face_landmarker.task")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "face_model_missing"
    assert "FACE_MODEL_PATH" in response.json()["error"]["message"]


async def test_pages_config_is_for_token_holders_only(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        assert (await http.get("/api/pages/config")).status_code == 401
    async with server.client() as http:
        response = await http.get("/api/pages/config")
    assert response.status_code == 200
    body = response.json()
    # Bound to loopback (as in tests): the phone link can only point where the viewer is.
    assert body["camera_base_urls"] == [server.base_url]
    assert body["secure"] is False
    assert body["face_model_url"] == "/static/models/face_landmarker.task"


async def test_pages_config_offers_the_lan_addresses_when_listening_on_all_interfaces(
    settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(settings, host="0.0.0.0")) as live, live.client() as http:
        port = live.base_url.rsplit(":", 1)[1]
        lan = (await http.get("/api/pages/config")).json()["camera_base_urls"]
        named = (await http.get("/api/pages/config", headers={"Host": f"frontdesk.example:{port}"})).json()
    expected = [f"http://{address}:{port}" for address in tls.lan_addresses()] or [live.base_url]
    assert lan == expected
    # The address the viewer itself used comes first: it already reaches this machine.
    assert named["camera_base_urls"][0] == f"http://frontdesk.example:{port}"
