"""Who is asking, from where: the client address (proxy-aware only when told to be) and a per-request
context that the operation log reads, so every logged write carries the caller's IP."""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings

_current_ip: ContextVar[str | None] = ContextVar("shoal_request_ip", default=None)


def client_ip(request) -> str | None:
    """The client's address. ``X-Forwarded-For`` is believed only behind ``SHOAL_TRUSTED_PROXIES``
    proxies (the entry that many hops from the right); otherwise anyone could write any address."""
    if request is None:
        return None
    hops = getattr(settings, "SHOAL_TRUSTED_PROXIES", 0)
    if hops > 0:
        chain = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.META.get("REMOTE_ADDR") or None


def current_ip() -> str | None:
    return _current_ip.get()


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _current_ip.reset(token)
