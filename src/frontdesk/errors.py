"""The project's own error types. Handlers raise these; `app.py` maps them to one JSON shape:

    {"error": {"code": "...", "message": "...", "detail": ...}}
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, detail: Any = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}


class BadRequest(ApiError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class ConsentRequired(Conflict):
    """A biometric or memory write for a customer without (or after withdrawing) consent."""

    code = "consent_required"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(ApiError):
    status_code = 422
    code = "validation_error"


class DatabaseUnavailable(ApiError):
    status_code = 503
    code = "database_unavailable"
