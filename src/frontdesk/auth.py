"""Bearer-token access: every route is private unless it is on the public list.

Default-deny means a route added later cannot slip through unguarded. Tokens are compared in constant time
(hmac.compare_digest against each configured token, always all of them).
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.errors import Unauthorized
from frontdesk.http import JSONResponse

# Exact public paths, and public prefixes. Pages, their assets and health checks reveal no customer data;
# /api/signaling authenticates inside its own protocol (browsers cannot set headers on a websocket).
PUBLIC_PATHS = frozenset({"/", "/camera", "/healthz", "/readyz", "/openapi.json", "/docs", "/api/signaling", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def token_is_valid(presented: str | None, tokens: tuple[str, ...]) -> bool:
    if not presented:
        return False
    valid = False
    for token in tokens:  # no early exit: the time taken does not reveal which token matched
        valid |= hmac.compare_digest(presented.encode(), token.encode())
    return valid


def bearer_token(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class TokenAuthMiddleware:
    def __init__(self, app: ASGIApp, tokens: tuple[str, ...]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)  # CORS preflight carries no credentials
            return
        if token_is_valid(bearer_token(Headers(scope=scope)), self.tokens):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "unauthorized"})
            return
        error = Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        response = JSONResponse(error.body(), status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
