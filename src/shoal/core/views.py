from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from . import parameters
from .auth import page_requires, user_can
from .errors import ShoalError
from .site import site


def bad_request(request, exception=None):
    """handler400: a body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (a form, or an API call the
    size middleware let through) is a 413; any other bad request keeps Django's page."""
    from django.core.exceptions import RequestDataTooBig
    from django.views.defaults import bad_request as default_bad_request

    from .middleware import too_large_response

    if isinstance(exception, RequestDataTooBig):
        return too_large_response(request)
    return default_bad_request(request, exception)


def healthz(request):
    database = "postgresql" if connection.vendor == "postgresql" else connection.vendor
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status, code = "ok", 200
    except Exception:  # the database is down: report it, do not crash
        status, code = "error", 503
    return JsonResponse({"status": status, "database": database, "version": settings.VERSION}, status=code)


def page(request, template, context):
    request.current_app = site.name
    return TemplateResponse(request, template, {**site.each_context(request), **context})


@page_requires("system.parameters.view")
def parameters_page(request):
    can_edit = user_can(request.user, "system.parameters.edit")
    errors = {}
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        changed = 0
        for param in parameters.REGISTRY.values():
            key = f"param_{param.code}"
            if param.type == "bool":
                raw = key in request.POST
            elif key in request.POST:
                raw = request.POST[key]
            else:
                continue
            try:
                if parameters.get(param.code) != param.coerce(raw):
                    parameters.set_value(param.code, raw, actor=request.user)
                    changed += 1
            except ShoalError as exc:
                errors[param.code] = exc.message
        if not errors:
            messages.success(request, _("Parameters saved (%(n)d changed).") % {"n": changed})
            return redirect("admin:parameters")
        messages.error(request, _("Some values were not saved; see the messages beside them."))
    rows = parameters.all_values()
    for row in rows:
        row["error"] = errors.get(row["code"])
        if row["code"] in errors:
            row["value"] = request.POST.get(f"param_{row['code']}", row["value"])
    return page(request, "shoal/parameters.html", {"title": _("Parameters"), "rows": rows, "can_edit": can_edit})
