"""One error type for the whole project: services raise it, the API and pages render it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext


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
        return error_body(self.code, self.message, self.detail)


class NotFound(ShoalError):
    status = 404

    def __init__(self, message: str | None = None, detail: dict | None = None):
        super().__init__("not_found", gettext("Not found") if message is None else message, detail)


class PermissionDenied(ShoalError):
    status = 403

    def __init__(self, message: str | None = None, detail: dict | None = None):
        super().__init__("permission_denied", gettext("Permission denied") if message is None else message, detail)


class Conflict(ShoalError):
    status = 409


def error_body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape of the API: ``{"error": {"code", "message", "detail"}}``."""
    return {"error": {"code": code, "message": str(message), "detail": detail or {}}}


def error_response(status: int, code: str, message: str, detail: dict[str, Any] | None = None):
    """A JSON error answer in the one shape (for middlewares and plain Django views)."""
    from django.http import JsonResponse

    return JsonResponse(error_body(code, message, detail), status=status)


STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "permission_denied", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 411: "length_required", 413: "too_large",
                429: "throttled"}


def code_for_status(status: int) -> str:
    return STATUS_CODES.get(status, "error")
