import json

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

REASONS = {400: "bad_request", 401: "unauthorized", 403: "permission_denied", 404: "not_found",
           405: "method_not_allowed", 411: "length_required", 413: "too_large", 429: "throttled"}
ALWAYS_ALLOWED_BODY = 64 * 1024  # the smallest limit API_MAX_BODY_BYTES can have: no lookup below it


def too_large_detail(limit: int | None = None) -> tuple[str, dict]:
    from django.conf import settings

    limit = limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _("The request body is too large (at most %(limit)s bytes)") % {"limit": limit}, {"limit": limit}


def too_large_response(request, limit: int | None = None):
    """413: the error shape under /api/, a short page elsewhere."""
    message, detail = too_large_detail(limit)
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "too_large", "message": message, "detail": detail}}, status=413)
    return HttpResponse(render_to_string("shoal/413.html", {"message": message}, request=request), status=413)


class RequestSizeLimitMiddleware:
    """Refuse an API request body over API_MAX_BODY_BYTES (413) from its Content-Length, before
    anything reads it. A body sent without Content-Length (chunked) is refused with 411: Django
    would read it as empty. Multipart uploads are checked by their own size limits."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and not request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
            raw = request.META.get("CONTENT_LENGTH") or ""
            if not raw and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                return JsonResponse({"error": {"code": "length_required", "message": _(
                    "Send the request body with a Content-Length header"), "detail": {}}}, status=411)
            try:
                length = int(raw) if raw else 0
            except ValueError:
                length = -1
            if length < 0:
                return JsonResponse({"error": {"code": "bad_request", "message": _("Invalid Content-Length header"),
                                               "detail": {}}}, status=400)
            if length > ALWAYS_ALLOWED_BODY:
                from . import parameters

                limit = parameters.get(parameters.API_MAX_BODY.code)
                if length > limit:
                    return too_large_response(request, limit)
        return self.get_response(request)


class ApiErrorShapeMiddleware:
    """Under /api/, every error answer has the one shape {"error": {"code", "message", "detail"}},
    including those Django produces before an endpoint runs (unknown URL, wrong method)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            try:
                if "error" in json.loads(response.content):
                    return response
            except (ValueError, TypeError):
                pass
        status = response.status_code
        text = getattr(response, "reason_phrase", "") or "Error"
        detail = {"allowed": response["Allow"].split(", ")} if status == 405 and response.has_header("Allow") else {}
        reshaped = JsonResponse({"error": {"code": REASONS.get(status, "error"), "message": text, "detail": detail}},
                                status=status)
        if response.has_header("Allow"):  # a 405 must say which methods are allowed (RFC 9110)
            reshaped["Allow"] = response["Allow"]
        return reshaped
