"""The signaling wire format and the per-connection rate limit, without a server."""

from __future__ import annotations

import json

import pytest

from frontdesk.signaling import protocol
from frontdesk.signaling.protocol import (
    Candidate,
    IceCandidate,
    IceServer,
    Join,
    Joined,
    Offer,
    PeerInfo,
    SignalingError,
    stamped,
)
from frontdesk.signaling.rooms import TokenBucket, Verdict


def error_of(frame: str) -> SignalingError:
    with pytest.raises(SignalingError) as raised:
        protocol.decode(frame)
    assert raised.value.close is None  # decoding problems never close the socket
    return raised.value


def test_every_client_message_decodes_to_its_struct() -> None:
    join = protocol.decode('{"type":"join","role":"streamer","room":"r1","key":"k","resume":null}')
    assert join == Join(role="streamer", room="r1", key="k")
    assert protocol.decode('{"type":"offer","to":"p1","sdp":"v=0"}') == Offer(to="p1", sdp="v=0")
    end = protocol.decode('{"type":"candidate","to":"p1","candidate":null}')
    assert end == Candidate(to="p1", candidate=None)
    assert type(protocol.decode('{"type":"leave"}')).__name__ == "Leave"
    assert type(protocol.decode('{"type":"ping"}')).__name__ == "Ping"


def test_a_client_supplied_from_is_dropped_at_decoding() -> None:
    offer = protocol.decode('{"type":"offer","to":"p1","sdp":"v=0","from":"someone-else"}')
    assert isinstance(offer, Offer)
    relayed = json.loads(protocol.encode(stamped(offer, "me")))
    assert relayed == {"type": "offer", "from": "me", "sdp": "v=0"}


def test_a_candidate_is_relayed_in_the_browsers_own_shape() -> None:
    frame = '{"type":"candidate","to":"p1","candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}}'
    candidate = protocol.decode(frame)
    assert isinstance(candidate, Candidate)
    assert candidate.candidate == IceCandidate(candidate="candidate:1", sdp_mid="0", sdp_m_line_index=0)
    assert json.loads(protocol.encode(stamped(candidate, "me"))) == {
        "type": "candidate", "from": "me", "candidate": {"candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0}
    }
    assert json.loads(protocol.encode(stamped(Candidate(to="x", candidate=None), "me")))["candidate"] is None


def test_bad_frames_get_a_code_and_a_message_naming_the_place() -> None:
    assert error_of('{"type":"offer",').code == "malformed"
    unknown = error_of('{"type":"teleport"}')
    assert unknown.code == "unknown_type" and "teleport" in unknown.message
    missing = error_of('{"type":"offer","to":"p1"}')
    assert missing.code == "invalid_message" and "sdp" in missing.message
    wrong = error_of('{"type":"offer","to":5,"sdp":"x"}')
    assert wrong.code == "invalid_message" and wrong.message.startswith("$.to:")
    assert error_of('{"type":"join","role":"admin"}').message.startswith("$.role:")
    assert error_of('{"type":"offer","to":"../etc","sdp":"x"}').message.startswith("$.to:")
    assert error_of('{"sdp":"x"}').code == "invalid_message"
    assert error_of("[1,2]").code == "invalid_message"


def test_joined_leaves_out_the_key_for_streamers_and_empty_turn_credentials() -> None:
    joined = Joined(
        room="r", peer_id="p", role="streamer", resume_token="t", peers=[PeerInfo("v", "viewer")],
        ice_servers=[IceServer(urls=["stun:s"])], ping_interval=10.0, resumed=False,
    )
    assert json.loads(protocol.encode(joined)) == {
        "type": "joined", "room": "r", "peer_id": "p", "role": "streamer", "resume_token": "t",
        "peers": [{"peer_id": "v", "role": "viewer"}], "ice_servers": [{"urls": ["stun:s"]}],
        "ping_interval": 10.0, "resumed": False,
    }


def test_the_token_bucket_allows_a_burst_then_drops_then_closes_and_refills() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert [bucket.take(0.0) for _ in range(20)] == [Verdict.ALLOW] * 20
    assert [bucket.take(0.0) for _ in range(20)] == [Verdict.DROP] * 20
    assert bucket.take(0.0) is Verdict.CLOSE
    fresh = TokenBucket(rate=10, burst=20, now=0.0)
    for _ in range(25):
        fresh.take(0.0)
    assert fresh.take(1.0) is Verdict.ALLOW  # a second later: 10 tokens back, 5 of them owed
    steady = TokenBucket(rate=10, burst=20, now=0.0)
    assert all(steady.take(i / 10) is Verdict.ALLOW for i in range(1000))  # at the rate, forever
