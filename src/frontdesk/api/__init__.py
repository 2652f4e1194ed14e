"""The JSON data API (customers, employees, sessions, embeddings, search, consent).

Each module declares its endpoints as `Endpoint` values (see `endpoint.py`); `routes()` serves them and the
OpenAPI document built from the same declarations.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from frontdesk.api import biometrics, context, customers, employees, memories, privacy, search, sessions
from frontdesk.api.endpoint import Endpoint, routes_of

ENDPOINTS: list[Endpoint] = [
    *customers.ENDPOINTS,
    *privacy.ENDPOINTS,
    *context.ENDPOINTS,
    *biometrics.ENDPOINTS,
    *memories.ENDPOINTS,
    *employees.ENDPOINTS,
    *sessions.ENDPOINTS,
    *search.ENDPOINTS,
]


def routes() -> list[BaseRoute]:
    from frontdesk import openapi

    return [*routes_of(ENDPOINTS), *openapi.routes()]
