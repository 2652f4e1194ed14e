"""Decoding request bodies into msgspec Structs and encoding responses, with one error shape."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from frontdesk.errors import BadRequest, PayloadTooLarge, ValidationFailed

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_PATH = re.compile(r" - at `(\$[^`]*)`$")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def decoder_for(kind: type[T]) -> msgspec.json.Decoder[T]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


def validation_error(exc: msgspec.ValidationError) -> ValidationFailed:
    """msgspec says `Expected ... - at `$.embedding[3]``; split that into a message and a JSON path."""
    text = str(exc)
    match = _PATH.search(text)
    path = match[1] if match else "$"
    message = text[: match.start()] if match else text
    return ValidationFailed(message, {"path": path})


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes", {"limit": limit})
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body is larger than {limit} bytes", {"limit": limit})
            chunks.append(chunk)
    except ClientDisconnect:
        # A client gone mid-upload is its own doing, not a server error: nothing was stored, no one hears.
        message = "the client disconnected before sending the whole body"
        raise BadRequest(message, code="client_disconnected") from None
    return b"".join(chunks)


def decode(body: bytes, kind: type[T], decoder: msgspec.json.Decoder[T] | None = None) -> T:
    """`decoder`: one built with a dec_hook (the API's vector fields); default: a plain one for `kind`."""
    if not body.strip():
        raise BadRequest("request body must be a JSON document", {"path": "$"})
    try:
        return (decoder or decoder_for(kind)).decode(body)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}", {"path": "$"}) from None
    except RecursionError:  # msgspec decodes nested JSON recursively: a deep body must not be a 500
        raise BadRequest("JSON nested too deeply", {"path": "$"}) from None


async def decode_body(request: Request, kind: type[T]) -> T:
    limit: int = request.app.state.settings.max_body_bytes
    return decode(await read_body(request, limit), kind)


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=headers)
