"""The /api/signaling room manager, end to end: a real uvicorn, real websocket clients."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator

import pytest
import uvicorn
from websockets.exceptions import InvalidStatus

from frontdesk.app import create_app
from frontdesk.settings import Settings

from conftest import TOKEN, LiveServer, ServerFactory, with_settings
from signaling_client import Peer, open_peer, streamer, viewer

# Quick timeouts so that liveness and expiry tests take well under a second each.
QUICK = {"ping_timeout_seconds": 5.0, "resume_grace_seconds": 5.0, "max_messages_per_second": 50.0}


@pytest.fixture
def signaling_settings(settings: Settings) -> Settings:
    return with_settings(settings, **QUICK)


@pytest.fixture
async def live(signaling_settings: Settings, start_server: ServerFactory) -> AsyncIterator[LiveServer]:
    async with start_server(signaling_settings) as server:
        yield server


async def camera_room(url: str) -> tuple[Peer, Peer]:
    """A viewer that opened a room, and the phone that joined it with the key."""
    first = await viewer(url)
    phone = await streamer(url, first.room, first.joined["key"])
    joined = await first.expect("peer-joined")
    assert joined["peer"] == {"peer_id": phone.id, "role": "streamer"}
    return first, phone


async def assert_relays(url: str) -> None:
    """A fresh room still pairs a phone with a viewer: whatever happened elsewhere left it unaffected."""
    first, phone = await camera_room(url)
    await phone.send(type="offer", to=first.id, sdp="v=0 fresh")
    assert await first.expect("offer") == {"type": "offer", "from": phone.id, "sdp": "v=0 fresh"}
    for peer in (first, phone):
        await peer.close()


# ---- the handshake ------------------------------------------------------------------------------------


async def test_a_streamer_and_two_viewers_exchange_offers_answers_and_candidates_in_order(live: LiveServer) -> None:
    url = live.ws_url
    first, phone = await camera_room(url)
    assert first.joined["role"] == "viewer" and first.joined["peers"] == [] and first.joined["resumed"] is False
    assert len(first.joined["key"]) >= 22  # 128 random bits, base64url
    assert phone.joined["peers"] == [{"peer_id": first.id, "role": "viewer"}]
    assert "key" not in phone.joined
    second = await viewer(url, room=first.room)
    assert {p["peer_id"] for p in second.joined["peers"]} == {first.id, phone.id}
    assert second.joined["key"] == first.joined["key"]
    for peer in (first, phone):
        assert (await peer.expect("peer-joined"))["peer"] == {"peer_id": second.id, "role": "viewer"}

    candidates = [{"candidate": f"candidate:{i} 1 udp 2122260223 10.0.0.{i} 5000{i} typ host",
                   "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"} for i in range(8)]
    for target in (first, second):
        await phone.send(type="offer", to=target.id, sdp=f"offer for {target.id}")
        for candidate in candidates:
            await phone.send(type="candidate", to=target.id, candidate=candidate)
        await phone.send(type="candidate", to=target.id, candidate=None)
    for target in (first, second):
        assert await target.expect("offer") == {"type": "offer", "from": phone.id, "sdp": f"offer for {target.id}"}
        for candidate in candidates:
            assert await target.recv() == {"type": "candidate", "from": phone.id, "candidate": candidate}
        assert await target.recv() == {"type": "candidate", "from": phone.id, "candidate": None}
        await target.send(type="answer", to=phone.id, sdp=f"answer from {target.id}")
        await target.send(type="candidate", to=phone.id, candidate={"candidate": "candidate:9 1 udp 1 10.0.0.9 9 typ host"})
        assert await phone.recv() == {"type": "answer", "from": target.id, "sdp": f"answer from {target.id}"}
        assert await phone.recv() == {
            "type": "candidate", "from": target.id, "candidate": {"candidate": "candidate:9 1 udp 1 10.0.0.9 9 typ host"}
        }
    for peer in (first, second, phone):
        await peer.is_alive()  # nothing else was sent to anyone


async def test_a_forged_from_is_ignored_and_the_server_stamps_the_sender(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    second = await viewer(live.ws_url, room=first.room)
    await first.expect("peer-joined")
    await second.send(type="answer", to=first.id, sdp="x", **{"from": phone.id})
    assert await first.expect("answer") == {"type": "answer", "from": second.id, "sdp": "x"}


async def test_a_message_to_a_peer_that_is_not_there_gets_an_error_at_once(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    await phone.send(type="offer", to="nobody", sdp="x")
    await phone.expect_error("peer_not_found")
    await phone.send(type="offer", to=phone.id, sdp="x")
    await phone.expect_error("peer_not_found")
    await first.send(type="leave")
    await first.expect_close(1000)
    assert await phone.expect("peer-left") == {"type": "peer-left", "peer_id": first.id, "reason": "left"}
    await phone.send(type="candidate", to=first.id, candidate=None)
    await phone.expect_error("peer_not_found")
    await phone.is_alive()


async def test_relaying_before_joining_is_an_error_and_the_socket_stays_open(live: LiveServer) -> None:
    peer = await open_peer(live.ws_url)
    await peer.send(type="offer", to="someone", sdp="x")
    await peer.expect_error("not_joined")
    await peer.is_alive()


# ---- refusals, each with its error and close code, leaving other rooms unaffected -----------------------


async def test_a_wrong_camera_key_is_refused_with_4401(live: LiveServer) -> None:
    first = await viewer(live.ws_url)
    intruder = await open_peer(live.ws_url)
    await intruder.send(type="join", role="streamer", room=first.room, key="A" * 22)
    frames = await intruder.expect_close(4401)
    assert [f["code"] for f in frames] == ["unauthorized"]
    await first.is_alive()  # the room heard nothing of it
    await assert_relays(live.ws_url)


async def test_a_viewer_without_a_valid_token_is_refused_with_4401(live: LiveServer) -> None:
    peer = await open_peer(live.ws_url)
    await peer.send(type="join", role="viewer", token="not-the-token", room=None)
    assert [f["code"] for f in await peer.expect_close(4401)] == ["unauthorized"]


async def test_an_unknown_room_is_refused_with_4404(live: LiveServer) -> None:
    peer = await open_peer(live.ws_url)
    await peer.send(type="join", role="streamer", room="no-such-room", key="k" * 22)
    assert [f["code"] for f in await peer.expect_close(4404)] == ["room_not_found"]


async def test_a_full_room_and_a_second_streamer_are_refused_with_4409(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(signaling_settings, max_viewers_per_room=2)) as live:
        first, phone = await camera_room(live.ws_url)
        second = await viewer(live.ws_url, room=first.room)
        assert (await phone.expect("peer-joined"))["peer"]["peer_id"] == second.id
        late = await open_peer(live.ws_url)
        await late.send(type="join", role="viewer", token=TOKEN, room=first.room)
        assert [f["code"] for f in await late.expect_close(4409)] == ["room_full"]
        second_phone = await open_peer(live.ws_url)
        await second_phone.send(type="join", role="streamer", room=first.room, key=first.joined["key"])
        assert [f["code"] for f in await second_phone.expect_close(4409)] == ["streamer_present"]
        await phone.is_alive()
        await assert_relays(live.ws_url)


async def test_rooms_past_max_rooms_are_refused_with_4503(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(signaling_settings, max_rooms=2)) as live:
        await viewer(live.ws_url)
        await viewer(live.ws_url)
        third = await open_peer(live.ws_url)
        await third.send(type="join", role="viewer", token=live.settings.api_tokens[0], room=None)
        assert [f["code"] for f in await third.expect_close(4503)] == ["too_many_rooms"]


async def test_a_frame_over_the_limit_is_closed_with_1009(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    await phone.send(type="offer", to=first.id, sdp="x" * live.settings.max_frame_bytes)
    await phone.expect_close(1009)
    assert await first.expect("peer-left") == {"type": "peer-left", "peer_id": phone.id, "reason": "closed"}
    await assert_relays(live.ws_url)


async def test_the_handler_enforces_the_frame_limit_when_the_server_does_not(signaling_settings: Settings) -> None:
    """Behind a server configured with a larger websocket limit, the handler still refuses the frame."""
    app = create_app(signaling_settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws_max_size=1024 * 1024)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        first, phone = await camera_room(url)
        await phone.send(type="offer", to=first.id, sdp="é" * (signaling_settings.max_frame_bytes // 2))
        frames = await phone.expect_close(1009)
        assert [f["code"] for f in frames] == ["frame_too_big"]
        assert (await first.expect("peer-left"))["reason"] == "closed"
    finally:
        server.should_exit = True
        await task


async def test_malformed_json_gets_an_error_and_the_socket_stays_open(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    await phone.send_raw('{"type": "offer", "to": ')
    await phone.expect_error("malformed")
    await phone.send_raw(b"\x00\x01")
    await phone.expect_error("invalid_message")
    await phone.send(type="offer", to=first.id)
    error = await phone.expect_error("invalid_message")
    assert "sdp" in error["message"]
    await phone.send(type="candidate", to=first.id, candidate={"candidate": 5})
    assert "$.candidate.candidate" in (await phone.expect_error("invalid_message"))["message"]
    await phone.send(type="offer", to=first.id, sdp="still here")
    assert (await first.expect("offer"))["sdp"] == "still here"
    await assert_relays(live.ws_url)


async def test_an_unknown_message_type_gets_an_error_and_the_socket_stays_open(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    await phone.send(type="teleport", to=first.id)
    error = await phone.expect_error("unknown_type")
    assert "teleport" in error["message"]
    await phone.is_alive()
    await first.is_alive()
    await assert_relays(live.ws_url)


async def test_a_flood_past_the_rate_limit_is_refused_then_closed_with_4429(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(signaling_settings, max_messages_per_second=10.0)) as live:
        first, phone = await camera_room(live.ws_url)
        for _ in range(200):
            await phone.send(type="ping")
        frames = await phone.expect_close(4429)
        errors = [f["code"] for f in frames if f["type"] == "error"]
        assert errors[0] == "rate_limited" and errors[-1] == "rate_limited"
        assert len([f for f in frames if f["type"] == "pong"]) < 40  # about the burst (twice the rate), not 200
        assert (await first.expect("peer-left"))["reason"] == "closed"
        await assert_relays(live.ws_url)


# ---- origin ---------------------------------------------------------------------------------------------


async def test_a_foreign_origin_is_refused_with_403(signaling_settings: Settings, start_server: ServerFactory) -> None:
    async with start_server(with_settings(signaling_settings, cors_origins=("https://pages.example",))) as live:
        with pytest.raises(InvalidStatus) as refused:
            await open_peer(live.ws_url, origin="https://evil.example")
        assert refused.value.response.status_code == 403
        assert b"forbidden_origin" in refused.value.response.body
        host = live.ws_url.removeprefix("ws://")
        for origin in (f"http://{host}", "https://pages.example", None):
            peer = await open_peer(live.ws_url, origin=origin)
            await peer.is_alive()
            await peer.close()


# ---- liveness and resume --------------------------------------------------------------------------------


async def sockets_open(live: LiveServer, count: int) -> None:
    """Wait until the server counts this many open sockets (a dropped one is noticed by then)."""
    async with live.client() as http:
        for _ in range(200):
            if (await http.get("/api/signaling/stats")).json()["connections"] == count:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"the server never got down to {count} open sockets")


async def keep_pinging(peer: Peer, every: float) -> None:
    while True:
        await peer.send(type="ping")
        await asyncio.sleep(every)


async def test_a_silent_peer_is_dropped_after_the_timeout_and_the_others_get_peer_left(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(signaling_settings, ping_timeout_seconds=0.6)) as live:
        first, phone = await camera_room(live.ws_url)
        assert first.joined["ping_interval"] == pytest.approx(0.2)
        pinger = asyncio.create_task(keep_pinging(first, first.joined["ping_interval"]))
        try:
            while (frame := await first.recv()) ["type"] == "pong":
                pass
            assert frame == {"type": "peer-left", "peer_id": phone.id, "reason": "timeout"}
            frames = await phone.expect_close(4408)
            assert [f["code"] for f in frames] == ["timeout"]
        finally:
            pinger.cancel()
        await first.is_alive()


async def test_a_reconnect_within_the_grace_window_keeps_the_peer_id_without_peer_left(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    phone.drop()
    await sockets_open(live, 1)  # the server has seen the phone's socket go
    await first.send(type="answer", to=phone.id, sdp="sent while the phone was away")
    back = await streamer(live.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
    assert back.joined["resumed"] is True
    assert back.id == phone.id and back.joined["resume_token"] == phone.joined["resume_token"]
    assert back.joined["peers"] == [{"peer_id": first.id, "role": "viewer"}]
    assert await back.expect("answer") == {"type": "answer", "from": first.id, "sdp": "sent while the phone was away"}
    await back.send(type="offer", to=first.id, sdp="after the switch")
    assert await first.recv() == {"type": "offer", "from": phone.id, "sdp": "after the switch"}  # no peer-left/joined
    await first.is_alive()


async def test_a_resumed_connection_replaces_a_stale_socket_that_still_holds_the_identity(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    back = await streamer(live.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
    assert back.id == phone.id and back.joined["resumed"] is True
    frames = await phone.expect_close(4410)
    assert [f["code"] for f in frames] == ["replaced"]
    await first.send(type="answer", to=phone.id, sdp="to the new socket")
    assert (await back.expect("answer"))["sdp"] == "to the new socket"
    await first.is_alive()  # no peer-left, no peer-joined
    await back.is_alive()


async def test_a_peer_away_past_the_grace_window_is_reported_left_and_its_slot_freed(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(signaling_settings, resume_grace_seconds=0.3)) as live:
        first, phone = await camera_room(live.ws_url)
        phone.drop()
        assert await first.expect("peer-left") == {"type": "peer-left", "peer_id": phone.id, "reason": "closed"}
        late = await streamer(live.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
        assert late.joined["resumed"] is False and late.id != phone.id
        assert (await first.expect("peer-joined"))["peer"]["peer_id"] == late.id


async def test_a_new_camera_takes_the_place_of_one_that_is_away(live: LiveServer) -> None:
    """A reloaded camera page without its resume token is not locked out by its own dead socket."""
    first, phone = await camera_room(live.ws_url)
    phone.drop()
    await sockets_open(live, 1)
    fresh = await streamer(live.ws_url, first.room, first.joined["key"])
    assert await first.expect("peer-left") == {"type": "peer-left", "peer_id": phone.id, "reason": "replaced"}
    assert (await first.expect("peer-joined"))["peer"] == {"peer_id": fresh.id, "role": "streamer"}


async def test_closing_with_1000_is_leaving(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    await phone.close()
    assert await first.expect("peer-left") == {"type": "peer-left", "peer_id": phone.id, "reason": "left"}


async def test_an_empty_room_expires_after_the_idle_time(signaling_settings: Settings, start_server: ServerFactory) -> None:
    async with start_server(with_settings(signaling_settings, idle_room_seconds=0.3)) as live:
        first = await viewer(live.ws_url)
        await first.send(type="leave")
        await first.expect_close(1000)
        async with live.client() as http:
            for _ in range(100):
                if (await http.get("/api/signaling/stats")).json()["rooms"] == 0:
                    break
                await asyncio.sleep(0.05)
        late = await open_peer(live.ws_url)
        await late.send(type="join", role="streamer", room=first.room, key=first.joined["key"])
        await late.expect_close(4404)


async def test_a_server_going_away_closes_with_1001_and_clients_resume(live: LiveServer) -> None:
    first, phone = await camera_room(live.ws_url)
    await live.app.state.signaling.go_away()
    await first.expect_close(1001)
    await phone.expect_close(1001)
    again = await viewer(live.ws_url, room=first.room, resume=first.joined["resume_token"])
    back = await streamer(live.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
    assert (again.id, back.id) == (first.id, phone.id)
    assert again.joined["resumed"] and back.joined["resumed"]
    await again.is_alive()  # neither saw the other leave or join


async def test_a_resuming_viewer_gets_its_place_back_in_a_full_room(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(with_settings(signaling_settings, max_viewers_per_room=1)) as live:
        first = await viewer(live.ws_url)
        first.drop()
        await sockets_open(live, 0)
        other = await open_peer(live.ws_url)
        await other.send(type="join", role="viewer", token=TOKEN, room=first.room)
        await other.expect_close(4409)  # the away viewer still holds its place
        again = await viewer(live.ws_url, room=first.room, resume=first.joined["resume_token"])
        assert again.id == first.id and again.joined["resumed"]


async def test_keys_and_tokens_never_appear_in_the_logs(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "frontdesk"):
        caplog.set_level(logging.DEBUG, logger=name)
    first, phone = await camera_room(live.ws_url)
    wrong = await open_peer(live.ws_url)
    await wrong.send(type="join", role="streamer", room=first.room, key="W" * 22)
    await wrong.expect_close(4401)
    phone.drop()
    back = await streamer(live.ws_url, first.room, first.joined["key"], resume=phone.joined["resume_token"])
    await back.send(type="teleport")
    await back.expect_error("unknown_type")
    await first.send(type="leave")
    await first.expect_close(1000)
    assert "room" in caplog.text.lower()  # the logs did capture the session
    for secret in (TOKEN, first.joined["key"], "W" * 22, first.joined["resume_token"], phone.joined["resume_token"]):
        assert secret not in caplog.text


# ---- ICE servers ----------------------------------------------------------------------------------------


async def test_turn_credentials_verify_with_the_coturn_hmac_scheme(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    secret = "coturn-shared-secret"
    changed = with_settings(
        signaling_settings, stun_urls=("stun:stun.example:3478",), turn_urls=("turn:turn.example:3478?transport=udp",
        "turns:turn.example:5349"), turn_secret=secret, turn_ttl_seconds=600,
    )
    async with start_server(changed) as live:
        before = time.time()
        first = await viewer(live.ws_url)
        stun, turn = first.joined["ice_servers"]
        assert stun == {"urls": ["stun:stun.example:3478"]}
        assert turn["urls"] == ["turn:turn.example:3478?transport=udp", "turns:turn.example:5349"]
        expiry, peer = turn["username"].split(":")
        assert peer == first.id
        assert before + 600 - 1 <= int(expiry) <= time.time() + 600
        expected = base64.b64encode(hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest())
        assert turn["credential"] == expected.decode()
        other = await viewer(live.ws_url, room=first.room)
        assert other.joined["ice_servers"][1]["credential"] != turn["credential"]  # per peer


async def test_turn_urls_without_a_secret_are_left_out(signaling_settings: Settings, start_server: ServerFactory) -> None:
    async with start_server(with_settings(signaling_settings, turn_urls=("turn:turn.example",))) as live:
        assert (await viewer(live.ws_url)).joined["ice_servers"] == []


# ---- stats and isolation --------------------------------------------------------------------------------


async def test_stats_need_a_token_and_count_rooms_peers_relays_and_errors(live: LiveServer) -> None:
    async with live.client(token=None) as anonymous:
        assert (await anonymous.get("/api/signaling/stats")).status_code == 401
    first, phone = await camera_room(live.ws_url)
    await phone.send(type="offer", to=first.id, sdp="x")
    await first.expect("offer")
    await phone.send(type="warp")
    await phone.expect_error("unknown_type")
    async with live.client() as http:
        stats = (await http.get("/api/signaling/stats")).json()
    assert stats == {"rooms": 1, "peers": 2, "connections": 2, "messages_relayed": 1, "errors": 1,
                     "errors_by_code": {"unknown_type": 1}}


async def test_two_apps_in_one_process_do_not_share_rooms(
    signaling_settings: Settings, start_server: ServerFactory
) -> None:
    async with start_server(signaling_settings) as one, start_server(signaling_settings) as two:
        first = await viewer(one.ws_url)
        stranger = await open_peer(two.ws_url)
        await stranger.send(type="join", role="streamer", room=first.room, key=first.joined["key"])
        await stranger.expect_close(4404)
