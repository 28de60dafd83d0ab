from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from . import parameters
from .errors import ShoalError


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
    from .site import site

    request.current_app = site.name
    return TemplateResponse(request, template, {**site.each_context(request), **context})


def workbench_callback(request, context):
    from shoal.accounts.models import DataScope, Department, LoginLog, User
    from shoal.schedules.models import ScheduledJob

    user = request.user
    cards = [
        {"title": _("My roles"), "value": ", ".join(user.roles.values_list("name", flat=True)) or "—"},
        {"title": _("My departments"), "value": ", ".join(str(d) for d in user.departments.all()) or "—"},
        {"title": _("Data scope"), "value": DataScope(user.data_scope()).label},
    ]
    if user.has_shoal_perm("system.users.view"):
        cards.append({"title": _("Enabled users"), "value": User.objects.filter(is_active=True).count()})
        cards.append({"title": _("Departments"), "value": Department.objects.count()})
    if user.has_shoal_perm("system.login_log.view"):
        cards.append({"title": _("Failed logins (all time)"), "value": LoginLog.objects.filter(success=False).count()})
    if user.has_shoal_perm("system.schedules.view"):
        cards.append({"title": _("Enabled scheduled jobs"), "value": ScheduledJob.objects.filter(enabled=True).count()})
    context.update({"cards": cards, "last_login": user.last_login})
    return context


def parameters_page(request):
    if not request.user.has_shoal_perm("system.parameters.view"):
        raise PermissionDenied
    can_edit = request.user.has_shoal_perm("system.parameters.edit")
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
