"""One error type for the whole project: services raise it, the API and pages render it."""

from __future__ import annotations

from typing import Any


class ShoalError(Exception):
    status = 400

    def __init__(self, code: str, message: str, detail: dict[str, Any] | None = None, *, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.detail = detail or {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}


class NotFound(ShoalError):
    status = 404

    def __init__(self, message: str = "Not found", detail: dict | None = None):
        super().__init__("not_found", message, detail)


class PermissionDenied(ShoalError):
    status = 403

    def __init__(self, message: str = "Permission denied", detail: dict | None = None):
        super().__init__("permission_denied", message, detail)


class Conflict(ShoalError):
    status = 409
