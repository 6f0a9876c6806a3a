"""The relay's one exception type for answers that are not 2xx.

Everything that rejects a request raises `ApiError`; the app's handlers turn it
(and FastAPI's own errors) into `{"code", "message", "reason"}` JSON.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import error_body as _core_error_body


def error_body(code: int, message: str, reason: str, **extra: Any) -> dict[str, Any]:
    return _core_error_body(code, message, str(reason), **extra)


class ApiError(Exception):
    """An HTTP answer with a stable snake_case `reason`."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = str(reason)
        self.message = message
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.reason, **self.extra)


def bad_request(reason: str, message: str, **extra: Any) -> ApiError:
    return ApiError(400, reason, message, **extra)
