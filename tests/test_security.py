"""Security by default: every route of the app is walked, and each one that is not explicitly public refuses
a request without a valid token, so a route added later cannot slip through unguarded."""

from __future__ import annotations

import re
import uuid

import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from frontdesk.auth import PUBLIC_PATHS, is_public, token_is_valid

from conftest import LiveServer


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


async def test_public_routes_reveal_no_customer_data(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        for method, template, path in http_endpoints(server):
            if is_public(path) and method == "GET":
                response = await http.get(path)
                assert response.status_code < 500, template
                for word in ("external_id", "display_name", "embedding\":", "nugget"):
                    if template != "/openapi.json":  # the schema names fields but holds no data
                        assert word not in response.text, (template, word)


@pytest.mark.parametrize(
    ("presented", "expected"),
    [("secret-a", True), ("secret-b", True), ("secret-", False), ("secret-ab", False), ("", False), (None, False)],
)
def test_tokens_must_match_one_configured_token_exactly(presented: str | None, expected: bool) -> None:
    assert token_is_valid(presented, ("secret-a", "secret-b")) is expected


def test_no_token_is_valid_when_none_is_configured() -> None:
    assert token_is_valid("anything", ()) is False
