import json

from django.http import JsonResponse

REASONS = {400: "bad_request", 401: "unauthorized", 403: "permission_denied", 404: "not_found",
           405: "method_not_allowed", 413: "too_large", 429: "throttled"}


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
        return JsonResponse({"error": {"code": REASONS.get(status, "error"), "message": text, "detail": detail}},
                            status=status)
