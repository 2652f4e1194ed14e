"""Embedding vectors, validated once at the edge.

`FaceVector` and `TextVector` are the field types the Structs use. Their dimension is not a constant: it is
the configured FACE_EMBEDDING_DIM / TEXT_EMBEDDING_DIM, fixed when the decoder is built from the settings
(`decode_hook`) and when the OpenAPI schema is (`schema_hook`). A value is checked (a JSON array of exactly
`dim` finite numbers within float32 range, not all zero) and then L2-normalised, so what is stored and
searched is a unit float32 vector: cosine distance is unchanged by that, and the same face sent twice gives
the same bytes (and the same derived idempotency hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

FLOAT32_MAX = float(np.finfo(np.float32).max)

_JSON_TYPES = {str: "a string", bool: "a boolean", dict: "an object", list: "an array", type(None): "null"}


class Vector:
    """A validated, L2-normalised float32 vector (`array`)."""

    __slots__ = ("array",)
    setting = ""

    def __init__(self, array: npt.NDArray[np.float32]) -> None:
        self.array = array


class FaceVector(Vector):
    __slots__ = ()
    setting = "FACE_EMBEDDING_DIM"


class TextVector(Vector):
    __slots__ = ()
    setting = "TEXT_EMBEDDING_DIM"


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def normalised(value: object, dim: int) -> npt.NDArray[np.float32]:
    """The unit float32 vector for a decoded JSON value; ValueError/TypeError say what is wrong and where."""
    if not isinstance(value, list):
        raise TypeError(f"expected an array of {dim} numbers, got {_json_type(value)}")
    if len(value) != dim:
        raise ValueError(f"expected {dim} numbers, got {len(value)}")
    for index, item in enumerate(value):
        if type(item) is not float and type(item) is not int:  # bool is an int subclass: refuse it too
            raise TypeError(f"expected a number at index {index}, got {_json_type(item)}")
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:
        raise ValueError("a number is outside the float32 range") from None
    outside = np.flatnonzero(~np.isfinite(array) | (np.abs(array) > FLOAT32_MAX))
    if outside.size:
        index = int(outside[0])
        raise ValueError(
            f"number at index {index} ({value[index]!r}) is outside the float32 range (±{FLOAT32_MAX:.7g})"
        )
    peak = float(np.max(np.abs(array)))
    if peak == 0.0:
        raise ValueError("the vector is all zeros; it has no direction to compare")
    unit = array / peak  # scale first so the norm cannot underflow for tiny inputs
    unit /= np.linalg.norm(unit)
    return unit.astype(np.float32)


def dimensions(face_dim: int, text_dim: int) -> dict[type[Vector], int]:
    return {FaceVector: face_dim, TextVector: text_dim}


def decode_hook(face_dim: int, text_dim: int) -> Callable[[type, Any], Any]:
    """msgspec's dec_hook: turns the decoded JSON of a vector field into a FaceVector/TextVector.

    msgspec reports what this raises as a ValidationError with the field's JSON path (`$.items[3].embedding`).
    """
    dims = dimensions(face_dim, text_dim)

    def hook(kind: type, value: Any) -> Any:
        dim = dims.get(kind)
        if dim is None:
            raise NotImplementedError(kind)
        return kind(normalised(value, dim))

    return hook


def schema_hook(face_dim: int, text_dim: int) -> Callable[[type], dict[str, Any]]:
    dims = dimensions(face_dim, text_dim)

    def hook(kind: type) -> dict[str, Any]:
        dim = dims.get(kind)
        if dim is None:
            raise NotImplementedError(kind)
        assert issubclass(kind, Vector)
        return {
            "type": "array",
            "items": {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX},
            "minItems": dim,
            "maxItems": dim,
            "not": {"items": {"const": 0}},  # not all zeros
            "description": (
                f"Exactly {dim} numbers ({kind.setting}), finite, within float32 range, not all zero. "
                "Stored and searched L2-normalised."
            ),
        }

    return hook


def content_hash(*parts: str | Vector | None) -> str:
    """A stable idempotency key for a batch item that came without one (sha256 over its content)."""
    digest = hashlib.sha256()
    for part in parts:
        data = (
            b"\x00" if part is None else part.array.tobytes() if isinstance(part, Vector) else part.encode()
        )
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return "sha256:" + digest.hexdigest()
