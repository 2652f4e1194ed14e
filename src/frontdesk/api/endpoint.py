"""One generic route for every API endpoint, so handlers hold only what is particular to them.

An `Endpoint` declares its method, path, body/query/response types and what it can refuse; `route()` turns
it into a Starlette route that parses the path ids (UUIDs: malformed -> 422 naming the parameter), the query
string and the body (with the settings' vector dimensions), calls the handler with a `Call`, and converts
what the handler returns (database rows, usually) into the declared response Struct. The same declarations
produce the OpenAPI document (`frontdesk.openapi`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontdesk.api import vectors
from frontdesk.db import Database
from frontdesk.errors import ApiError, Conflict, NotFound, ValidationFailed
from frontdesk.http import decode, json_response, read_body
from frontdesk.settings import Settings

B = TypeVar("B")
Q = TypeVar("Q")
T = TypeVar("T")

_PATH_PARAM = re.compile(r"{(\w+)}")
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
_decoders: dict[tuple[Any, int, int], msgspec.json.Decoder[Any]] = {}


@dataclass(frozen=True)
class Call(Generic[B, Q]):
    """What a handler gets: the database, the settings, the parsed path ids, query and body."""

    request: Request
    db: Database
    settings: Settings
    ids: Mapping[str, uuid.UUID]
    query: Q
    body: B


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    response: Any
    tag: str
    body: type | None = None
    query: type | None = None
    status: int = 200
    # A body whose fields are all optional may be left out entirely (read as `{}`).
    body_optional: bool = False
    # Why this endpoint can answer 409 (None: it cannot).
    conflict: str | None = None

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def summary(self) -> str:
        doc = (self.handler.__doc__ or self.handler.__name__).strip()
        return doc.split("\n\n")[0].replace("\n", " ")

    @property
    def description(self) -> str | None:
        parts = (self.handler.__doc__ or "").strip().split("\n\n", 1)
        return " ".join(parts[1].split()) if len(parts) > 1 else None

    async def run(self, request: Request) -> Response:
        settings: Settings = request.app.state.settings
        ids = parse_ids(request.path_params)
        query = parse_query(request.query_params, self.query) if self.query else None
        body = None
        if self.body is not None:
            raw = await read_body(request, settings.max_body_bytes)
            if self.body_optional and not raw.strip():
                raw = b"{}"
            body = decode(raw, self.body, decoder(self.body, settings))
        call = Call(request, request.app.state.db, settings, ids, query, body)
        try:
            result = await self.handler(call)
        except (NotFound, Conflict) as exc:
            name_the_column(exc)
            raise
        return json_response(msgspec.convert(result, self.response), self.status)


def routes_of(endpoints: Iterable[Endpoint]) -> list[Route]:
    """One route per path, dispatching on the method, so that a 405 lists in `Allow` every method the path
    has rather than those of whichever endpoint's route came first."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    return [_route(path, by_method) for path, by_method in by_path.items()]


def _route(path: str, by_method: dict[str, Endpoint]) -> Route:
    async def dispatch(request: Request) -> Response:
        return await by_method["GET" if request.method == "HEAD" else request.method].run(request)

    name = "|".join(endpoint.handler.__name__ for endpoint in by_method.values())
    return Route(path, dispatch, methods=list(by_method), name=name)


def decoder(kind: type, settings: Settings) -> msgspec.json.Decoder[Any]:
    """A JSON decoder for `kind` whose vector fields have the settings' dimensions (built once per pair)."""
    key = (kind, settings.face_embedding_dim, settings.text_embedding_dim)
    cached = _decoders.get(key)
    if cached is None:
        hook = vectors.decode_hook(settings.face_embedding_dim, settings.text_embedding_dim)
        cached = _decoders[key] = msgspec.json.Decoder(kind, dec_hook=hook)
    return cached


def parse_ids(params: Mapping[str, str]) -> dict[str, uuid.UUID]:
    ids = {}
    for name, raw in params.items():
        try:
            ids[name] = uuid.UUID(raw)
        except ValueError:
            shown = raw if len(raw) <= 64 else raw[:64] + "…"
            raise ValidationFailed(
                f"path parameter {name} must be a UUID, got {shown!r}", {"in": "path", "parameter": name}
            ) from None
    return ids


def parse_query(params: QueryParams, kind: type[Q]) -> Q:
    """The query Struct. A parameter given twice, or one that reads as null, is refused: either would
    otherwise pass silently (the last value wins; `?customer_id=null` means "no filter"), turning a
    filtered request into an unfiltered one."""
    values: dict[str, str] = {}
    for name, value in params.multi_items():
        if name in values:
            raise ValidationFailed(
                f"query parameter {name!r} is given more than once", {"in": "query", "parameter": name}
            )
        values[name] = value
    try:
        query = msgspec.convert(values, kind, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        at, unknown = _AT_PATH.search(text), _UNKNOWN.search(text)
        if unknown:
            bad, message = unknown[1], f"unknown query parameter {unknown[1]!r}"
        else:
            bad = at[1] if at else None
            message = f"query parameter {bad}: {text[: at.start()]}" if at else text
        raise ValidationFailed(message, {"in": "query", "parameter": bad}) from None
    for name, value in values.items():
        if getattr(query, name) is None:
            shown = value if len(value) <= 64 else value[:64] + "…"
            raise ValidationFailed(
                f"query parameter {name} needs a value, got {shown!r}; leave it out for none",
                {"in": "query", "parameter": name},
            )
    return query


def page(rows: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """A page from `limit + 1` fetched rows: the extra row only says there is a next page."""
    more = len(rows) > limit
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


def found(row: T | None, what: str, parameter: str, value: object, where: str = "path") -> T:
    """`row`, or a 404 naming what was looked for and the parameter that named it."""
    if row is None:
        raise NotFound(f"{what} {value} does not exist", {"in": where, "parameter": parameter})
    return row


def name_the_column(exc: ApiError) -> None:
    """Say which field a database constraint error is about: `sessions_employee_id_fkey` -> `employee_id`
    refers to a row that does not exist; `customers_external_id_key` -> `external_id` is already taken."""
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    constraint, table = detail.get("constraint") or "", detail.get("table") or ""
    if not table or not constraint.startswith(table + "_"):
        return
    column = constraint[len(table) + 1 :]
    if isinstance(exc, NotFound) and column.endswith("_fkey"):
        exc.message = f"{column.removesuffix('_fkey')} refers to a row that does not exist"
        exc.detail = {**detail, "field": column.removesuffix("_fkey")}
    elif isinstance(exc, Conflict) and column.endswith("_key"):
        exc.message = f"{column.removesuffix('_key')} is already taken"
        exc.detail = {**detail, "field": column.removesuffix("_key")}
