"""The signaling wire protocol: every frame is a JSON object whose `type` field tags a msgspec Struct.

Client frames are decoded by one `Decoder` built once; server frames are Structs encoded by one `Encoder`.
A client-supplied `from` is not a field of any client Struct, so it is dropped at decoding: the server
stamps `from` itself. docs/signaling.md describes every message, error code and close code.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Annotated, Literal, cast

import msgspec
from msgspec import Meta, Struct, field

Role = Literal["viewer", "streamer"]
LeaveReason = Literal["left", "timeout", "closed", "replaced"]

# Ids the server hands out (secrets.token_urlsafe) and secrets the client echoes back.
Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Secret = Annotated[str, Meta(min_length=1, max_length=512)]


# ---- client -> server -------------------------------------------------------------------------------


class Join(Struct, tag="join", tag_field="type", kw_only=True):
    role: Role
    room: Id | None = None
    token: Secret | None = None  # viewers: an API token
    key: Secret | None = None  # streamers: the room's camera join key
    resume: Secret | None = None  # the resume_token of an earlier `joined`


class Offer(Struct, tag="offer", tag_field="type", kw_only=True):
    to: Id
    sdp: str


class Answer(Struct, tag="answer", tag_field="type", kw_only=True):
    to: Id
    sdp: str


class IceCandidate(Struct, kw_only=True, omit_defaults=True):
    """RTCIceCandidateInit, as the browser's `candidate.toJSON()` gives it."""

    candidate: str
    sdp_mid: str | None = field(default=None, name="sdpMid")
    sdp_m_line_index: Annotated[int, Meta(ge=0, le=65535)] | None = field(default=None, name="sdpMLineIndex")
    username_fragment: str | None = field(default=None, name="usernameFragment")


class Candidate(Struct, tag="candidate", tag_field="type", kw_only=True):
    to: Id
    candidate: IceCandidate | None  # None: end-of-candidates


class Leave(Struct, tag="leave", tag_field="type"):
    pass


class Ping(Struct, tag="ping", tag_field="type"):
    pass


ClientMessage = Join | Offer | Answer | Candidate | Leave | Ping
Relayable = Offer | Answer | Candidate
CLIENT_TYPES = frozenset({"join", "offer", "answer", "candidate", "leave", "ping"})


# ---- server -> client -------------------------------------------------------------------------------


class PeerInfo(Struct):
    peer_id: str
    role: Role


class IceServer(Struct, kw_only=True, omit_defaults=True):
    """RTCIceServer. username/credential are left out, not null: a browser would read null as "null"."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Joined(Struct, tag="joined", tag_field="type", kw_only=True, omit_defaults=True):
    room: str
    peer_id: str
    role: Role
    resume_token: str
    peers: list[PeerInfo]
    ice_servers: list[IceServer]
    ping_interval: float
    resumed: bool
    key: str | None = None  # the camera join key, sent to viewers only


class PeerJoined(Struct, tag="peer-joined", tag_field="type"):
    peer: PeerInfo


class PeerLeft(Struct, tag="peer-left", tag_field="type"):
    peer_id: str
    reason: LeaveReason


class RelayedOffer(Struct, tag="offer", tag_field="type"):
    from_: str = field(name="from")
    sdp: str


class RelayedAnswer(Struct, tag="answer", tag_field="type"):
    from_: str = field(name="from")
    sdp: str


class RelayedCandidate(Struct, tag="candidate", tag_field="type"):
    from_: str = field(name="from")
    candidate: IceCandidate | None


class Pong(Struct, tag="pong", tag_field="type"):
    pass


class Error(Struct, tag="error", tag_field="type"):
    code: str
    message: str


ServerMessage = Joined | PeerJoined | PeerLeft | RelayedOffer | RelayedAnswer | RelayedCandidate | Pong | Error


def stamped(message: Relayable, sender: str) -> RelayedOffer | RelayedAnswer | RelayedCandidate:
    """The frame the addressee gets: `to` removed, `from` set to the sender's own peer id."""
    if isinstance(message, Offer):
        return RelayedOffer(sender, message.sdp)
    if isinstance(message, Answer):
        return RelayedAnswer(sender, message.sdp)
    return RelayedCandidate(sender, message.candidate)


# ---- close codes and errors -------------------------------------------------------------------------


class CloseCode(IntEnum):
    NORMAL = 1000  # after `leave`
    GOING_AWAY = 1001  # server shutting down (uvicorn itself closes with 1012): reconnect and resume
    TOO_BIG = 1009  # frame larger than max_frame_bytes
    INTERNAL_ERROR = 1011  # a bug on our side (logged): reconnect and resume
    TRY_AGAIN_LATER = 1013  # the shared room state (database) is unreachable: reconnect with backoff
    UNAUTHORIZED = 4401  # bad API token or camera join key
    ROOM_NOT_FOUND = 4404
    LIVENESS_TIMEOUT = 4408  # silent past ping_timeout_seconds, or not reading its frames
    CONFLICT = 4409  # room full, or a streamer is already connected
    REPLACED = 4410  # a newer connection resumed this identity: do not reconnect
    RATE_LIMITED = 4429
    SERVER_FULL = 4503  # max_rooms reached


class SignalingError(Exception):
    """An error frame for the client, and the close code that follows it (None: the socket stays open)."""

    def __init__(self, code: str, message: str, close: CloseCode | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close

    def frame(self) -> Error:
        return Error(self.code, self.message)


_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()
_PATH = re.compile(r" - at `(\$[^`]*)`$")


class _Typed(Struct):
    type: object = None


def decode(frame: str | bytes) -> ClientMessage:
    """One client frame -> its Struct, or a non-fatal SignalingError naming what is wrong and where."""
    try:
        return cast(ClientMessage, _decoder.decode(frame))
    except RecursionError:  # msgspec decodes nested values recursively: a deep one is the client's error
        raise SignalingError("malformed", "frame is nested too deeply") from None
    except msgspec.DecodeError as exc:
        if not isinstance(exc, msgspec.ValidationError):
            raise SignalingError("malformed", f"frame is not valid JSON: {exc}") from None
        tag = _type_of(frame)
        if isinstance(tag, str) and tag not in CLIENT_TYPES:
            known = ", ".join(sorted(CLIENT_TYPES))
            raise SignalingError("unknown_type", f"unknown message type {tag[:40]!r}; expected one of {known}") from None
        raise SignalingError("invalid_message", _with_path(str(exc))) from None


def _type_of(frame: str | bytes) -> object:
    try:
        return msgspec.json.decode(frame, type=_Typed).type
    except (msgspec.DecodeError, RecursionError):
        return None


def _with_path(text: str) -> str:
    """msgspec says "Expected `str`, got `int` - at `$.to`"; say it as "$.to: Expected `str`, got `int`"."""
    match = _PATH.search(text)
    return f"{match[1]}: {text[: match.start()]}" if match else f"$: {text}"


def encode(message: ServerMessage) -> str:
    return _encoder.encode(message).decode()
