"""The Anthropic API's error envelope, as one exception type.

Every failure the emulator reports goes out as
``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``
with the status code the real API uses for that error type, so SDK exception mapping
(``BadRequestError``, ``RateLimitError``, ``OverloadedError``...) works unchanged.
"""

from __future__ import annotations

from typing import Any

STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class APIError(Exception):
    """An error answered with the API's envelope and status code."""

    def __init__(
        self,
        message: str,
        error_type: str = "invalid_request_error",
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status if status is not None else STATUS_BY_TYPE.get(error_type, 500)
        self.headers = dict(headers or {})

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        """The JSON body the real API sends for this error."""
        out: dict[str, Any] = {
            "type": "error",
            "error": {"type": self.error_type, "message": self.message},
        }
        if request_id:
            out["request_id"] = request_id
        return out


def invalid(message: str) -> APIError:
    """Shorthand for the 400 ``invalid_request_error`` used by validation."""
    return APIError(message, "invalid_request_error")
