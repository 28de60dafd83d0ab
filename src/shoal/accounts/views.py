from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shoal.core.auth import page_requires
from shoal.core.errors import error_response
from shoal.core.permissions import permission_tree
from shoal.core.views import page

from .models import DataScope, User


def lockout_response(request, credentials, *args, **kwargs):
    message = _("Too many failed logins: this account is locked for a while. Try again later or ask an administrator.")
    if request.path.startswith("/api/"):
        return error_response(429, "locked_out", message)
    from shoal.core.site import site

    form = site.login_form(request, data=None)
    context = {**site.each_context(request), "form": form, "lockout_message": message, "title": _("Log in"),
               "app_path": request.get_full_path(), "username": (credentials or {}).get("username", "")}
    return TemplateResponse(request, "shoal/login.html", context, status=429).render()


def _permissions_context(target: User):
    return {
        "target": target,
        "tree": permission_tree(set(target.shoal_permissions())),
        "data_scope": DataScope(target.data_scope()).label,
        "roles": list(target.roles.all()),
    }


def my_permissions(request):
    return page(request, "shoal/permission_preview.html",
                {"title": _("My permissions"), **_permissions_context(request.user)})


@page_requires("system.users.view")
def user_permissions(request, user_id: int):
    target = get_object_or_404(User, pk=user_id)
    return page(request, "shoal/permission_preview.html",
                {"title": _("Menu permission preview: %(user)s") % {"user": target}, **_permissions_context(target)})


@require_POST
def set_language(request):
    """Switch the UI language; a logged-in user keeps the choice on their account."""
    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        nxt = "/"
    response = HttpResponseRedirect(nxt)
    if lang and check_for_language(lang) and lang in dict(settings.LANGUAGES):
        if request.user.is_authenticated:
            User.objects.filter(pk=request.user.pk).update(language=lang)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def my_tokens(request):
    """Personal API tokens: create (shown once), list, revoke."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from . import services
    from .models import ApiToken

    if request.method == "POST":
        if request.POST.get("revoke"):
            services.token_revoke(actor=request.user, user=request.user, token_id=request.POST["revoke"])
            messages.success(request, _("Token revoked."))
        else:
            name = (request.POST.get("name") or "").strip()[:100]
            raw = services.token_issue(actor=request.user, user=request.user, name=name)
            messages.warning(request, _("Your new API token (shown only this once, copy it now): %(token)s")
                             % {"token": raw})
        return redirect("admin:my_tokens")
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return page(request, "shoal/tokens.html", {"title": _("My API tokens"), "tokens": tokens})
