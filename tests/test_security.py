"""Security by default: every route of the app is walked, and each one that is not explicitly public refuses
a request without a valid token, so a route added later cannot slip through unguarded."""

from __future__ import annotations

import logging
import re
import ssl
import stat
import uuid
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import InvalidStatus

from frontdesk.auth import PUBLIC_PATHS, is_public, token_is_valid
from serve_process import frontdesk_process, until_healthy

from api_support import FACE_DIM, TEXT_DIM, add_faces, add_memories, ok, vector
from conftest import TOKEN, LiveServer
from signaling_client import open_peer, streamer, viewer


def concrete(path: str) -> str:
    """A route template with each {param} filled by a well-formed value."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def http_endpoints(server: LiveServer) -> list[tuple[str, str, str]]:
    found = []
    for route in server.app.routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((method, route.path, concrete(route.path)))
    return found


async def test_every_private_route_answers_401_without_or_with_a_wrong_token(server: LiveServer) -> None:
    private = [(m, template, path) for m, template, path in http_endpoints(server) if not is_public(path)]
    assert any(template == "/metrics" for _, template, _ in private)
    for token in (None, "wrong-token", ""):
        async with server.client(token=token) as http:
            for method, template, path in private:
                response = await http.request(method, path, content=b"{}")
                assert response.status_code == 401, (method, template, token, response.status_code)
                assert response.json()["error"]["code"] == "unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"


async def test_only_pages_health_docs_and_signaling_are_public(server: LiveServer) -> None:
    public = {template for _, template, path in http_endpoints(server) if is_public(path)}
    assert public <= PUBLIC_PATHS
    for route in server.app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
        if isinstance(route, WebSocketRoute):
            assert route.path == "/api/signaling", "a websocket route other than signaling must be reviewed"


async def seed_customer_data(http: httpx.AsyncClient) -> list[str]:
    """A customer with everything we keep about people, through the API; the distinctive strings stored."""
    kinds = ("crm", "name", "notes", "nugget", "staff", "visit", "said", "tip")
    marks = [f"{kind}-{uuid.uuid4().hex[:12]}" for kind in kinds]
    crm, name, notes, nugget, staff_name, visit_key, said, tip = marks
    c = ok(await http.post("/customers", json={"external_id": crm, "display_name": name, "notes": notes,
                                               "consent_for_biometrics": True}), 201)
    ok(await add_faces(http, c["id"], vector(FACE_DIM, 1)))
    ok(await add_memories(http, c["id"], (nugget, vector(TEXT_DIM, 1))))
    staff = ok(await http.post("/employees", json={"external_id": staff_name, "display_name": staff_name}), 201)
    visit = ok(await http.post("/sessions", json={"employee_id": staff["id"], "session_key": visit_key,
                                                  "customer_id": c["id"]}), 201)
    ok(await http.post(f"/sessions/{visit['id']}/transcript", json={"chunks": [{"chunk_index": 0, "content": said}]}))
    ok(await http.post(f"/sessions/{visit['id']}/coaching-notes", json={"content": tip}), 201)
    return [*marks, c["id"], staff["id"], visit["id"]]


async def test_public_routes_reveal_no_customer_data(server: LiveServer, client: httpx.AsyncClient) -> None:
    stored = await seed_customer_data(client)
    context = (await client.get(f"/customers/{stored[-3]}/context")).text
    assert all(mark in context for mark in stored[1:4])  # the data is there, for a token holder
    async with server.client(token=None) as http:
        public = [path for method, _, path in http_endpoints(server) if is_public(path) and method == "GET"]
        for path in [*public, "/static/js/signaling.js", "/static/css/app.css", "/no-such-page"]:
            response = await http.get(path, params={"q": stored[0]} if path == "/" else None)
            assert response.status_code < 500, path
            for mark in stored:
                assert mark not in response.text, (path, mark)
            for word in ("external_id", "display_name", "embedding\":", "nugget"):
                if path != "/openapi.json":  # the schema names fields but holds no data
                    assert word not in response.text, (path, word)


async def test_api_tokens_never_reach_the_logs(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    """Requests with the right token, a wrong one and a malformed header, answered 2xx, 4xx and 401: no log
    line (ours, uvicorn's, its access log) holds a token. The real process's output is checked too, by
    test_faults (LOG_LEVEL=debug)."""
    wrong = "wrong-token-" + uuid.uuid4().hex
    for name in ("", "frontdesk", "uvicorn", "uvicorn.error", "uvicorn.access"):
        caplog.set_level(logging.DEBUG, logger=name)
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    for logger in uvicorn_loggers:  # uvicorn's own config may stop its records before the root logger
        logger.addHandler(caplog.handler)
    try:
        for token in (TOKEN, wrong, f"{TOKEN} {wrong}"):
            async with server.client(token=token) as http:
                await http.get("/customers")
                await http.post("/customers", json={"external_id": token, "display_name": "x"})
                await http.get("/customers/not-a-uuid")
                await http.post("/search/face", content=b"{")
                await http.get("/metrics")
                await http.get("/api/signaling/stats")
        async with server.client(token=None) as http:
            await http.get("/customers", headers={"Authorization": f"Basic {TOKEN}"})
    finally:
        for logger in uvicorn_loggers:
            logger.removeHandler(caplog.handler)
    assert "GET /customers" in caplog.text  # the access log was captured
    assert TOKEN not in caplog.text and wrong not in caplog.text


async def test_the_signaling_socket_refuses_other_origins_by_default(server: LiveServer) -> None:
    """With no CORS_ORIGINS only the page's own origin (what the Host header names) may open the socket."""
    host = server.ws_url.removeprefix("ws://")
    port = int(host.rsplit(":", 1)[1])
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}x",
                   f"http://127.0.0.1:{port}.evil.example", f"file://{host}", f"ws://{host}"):
        with pytest.raises(InvalidStatus) as refused:
            await open_peer(server.ws_url, origin=origin)
        assert refused.value.response.status_code == 403, origin
    for origin in (f"http://{host}", f"https://{host}", None):  # a browser on the page, or no browser at all
        peer = await open_peer(server.ws_url, origin=origin)
        await peer.is_alive()
        await peer.close()


async def test_a_camera_key_is_random_and_opens_only_its_own_room(server: LiveServer) -> None:
    viewers = [await viewer(server.ws_url) for _ in range(20)]
    keys = {v.joined["key"] for v in viewers}
    assert len(keys) == 20 and all(re.fullmatch(r"[A-Za-z0-9_-]{22,}", key) for key in keys)  # >= 128 bits
    a, b = viewers[0], viewers[1]
    intruder = await open_peer(server.ws_url)
    await intruder.send(type="join", role="streamer", room=b.room, key=a.joined["key"])
    assert [f["code"] for f in await intruder.expect_close(4401)] == ["unauthorized"]
    resumer = await open_peer(server.ws_url)  # a resume token is no key to another room either
    await resumer.send(type="join", role="viewer", token=TOKEN, room=b.room, resume=a.joined["resume_token"])
    frames = await resumer.recv()
    assert frames["type"] == "error" or frames.get("peer_id") != a.id, frames
    phone = await streamer(server.ws_url, b.room, b.joined["key"])  # b's own key still works
    assert phone.room == b.room


@pytest.mark.parametrize(
    ("presented", "expected"),
    [("secret-a", True), ("secret-b", True), ("secret-", False), ("secret-ab", False), ("", False), (None, False)],
)
def test_tokens_must_match_one_configured_token_exactly(presented: str | None, expected: bool) -> None:
    assert token_is_valid(presented, ("secret-a", "secret-b")) is expected


def test_no_token_is_valid_when_none_is_configured() -> None:
    assert token_is_valid("anything", ()) is False


async def test_serve_speaks_https_with_its_own_certificate_by_default(database_url: str, tmp_path: Path) -> None:
    """Phones give the camera only to a secure context: `serve` makes a certificate for this machine's names
    and addresses (its key private to the owner) and speaks HTTPS, not plain HTTP."""
    data = tmp_path / "data"
    with frontdesk_process(tmp_path, DATABASE_URL=database_url, TLS="auto", DATA_DIR=str(data)) as (proc, port, log):
        await until_healthy(proc, f"https://127.0.0.1:{port}", log, verify=False)
        trust = ssl.create_default_context(cafile=data / "tls" / "cert.pem")
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trust) as https:
            assert (await https.get("/healthz")).status_code == 200  # the certificate names 127.0.0.1
            assert (await https.get("/customers")).status_code == 401
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as plain:
            with pytest.raises(httpx.TransportError):
                await plain.get("/healthz")
    assert stat.S_IMODE((data / "tls" / "key.pem").stat().st_mode) == 0o600
