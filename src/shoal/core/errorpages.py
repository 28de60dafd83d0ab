"""404 and 403 pages inside the Shoal layout (JSON error shape under /api/), and one-line 403 logs."""

from __future__ import annotations

import logging

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from .errors import error_response

logger = logging.getLogger("shoal.security")


def _back_url(request) -> str:
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return referer
    return ""


def _error_page(request, *, status: int, code: str, title: str, message: str, icon: str):
    if request.path.startswith("/api/"):
        return error_response(status, code, title, {"path": request.path})
    from .site import site

    user = getattr(request, "user", None)
    # messages=[]: queued messages wait for the next real page (they are not about this error)
    context = {"status": status, "title": title, "message": message, "icon": icon,
               "back_url": _back_url(request), "messages": []}
    if user is not None and user.is_authenticated and user.is_active:
        request.current_app = site.name
        context.update(site.each_context(request), base_template="admin/base_site.html",
                       home_url=reverse("admin:index"))
    else:
        context.update(site_title=site.site_title, base_template="unfold/layouts/unauthenticated.html",
                       home_url=reverse("admin:login"))
    response = TemplateResponse(request, "shoal/error.html", context, status=status)
    return response.render()


def page_not_found(request, exception=None):
    return _error_page(request, status=404, code="not_found", icon="search_off",
                       title=_("Page not found"),
                       message=_("The page you asked for does not exist or was moved."))


def permission_denied(request, exception=None):
    user = getattr(request, "user", None)
    logger.warning("Forbidden: %s %s (user %s)", request.method, request.path,
                   user.get_username() if user is not None and user.is_authenticated else "anonymous")
    return _error_page(request, status=403, code="permission_denied", icon="block",
                       title=_("Permission denied"),
                       message=_("You do not have permission to open this page. Ask an administrator "
                                 "for access if you need it."))


class DropPermissionDeniedTraceback(logging.Filter):
    """Django logs every PermissionDenied with its traceback on ``django.request``; an ordinary 403 is
    not an error: ``permission_denied`` above logs it as one line, so that record is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (getattr(record, "status_code", None) == 403 and record.exc_info
                    and record.msg.startswith("Forbidden (Permission denied)"))
