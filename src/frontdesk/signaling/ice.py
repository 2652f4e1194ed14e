"""ICE servers for a peer: STUN as configured, TURN with coturn's REST-API ephemeral credentials.

coturn (`use-auth-secret`, `static-auth-secret=<TURN_SECRET>`) accepts username "<expiry>:<peer>" with
password base64(HMAC-SHA1(secret, username)) until the unix time <expiry>; the secret never leaves the
server and a leaked credential dies by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from frontdesk.settings import Settings
from frontdesk.signaling.protocol import IceServer

log = logging.getLogger(__name__)


def turn_credentials(secret: str, peer_id: str, now: float, ttl_seconds: int) -> tuple[str, str]:
    username = f"{int(now) + ttl_seconds}:{peer_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, peer_id: str, now: float) -> list[IceServer]:
    servers = []
    if settings.stun_urls:
        servers.append(IceServer(urls=list(settings.stun_urls)))
    if settings.turn_urls and settings.turn_secret:
        username, credential = turn_credentials(settings.turn_secret, peer_id, now, settings.turn_ttl_seconds)
        servers.append(IceServer(urls=list(settings.turn_urls), username=username, credential=credential))
    return servers


def check(settings: Settings) -> None:
    """A TURN URL without credentials would make the browser's RTCPeerConnection constructor throw."""
    if settings.turn_urls and not settings.turn_secret:
        log.warning("TURN_URLS is set but TURN_SECRET is not: TURN servers are left out of the ICE servers")
