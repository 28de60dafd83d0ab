"""Who is calling: the API authenticators and the permission checks every endpoint uses.

Three ways in, tried in this order:

- ``Authorization: Bearer <token>``: a personal API token (people's scripts, tools);
- ``X-App-Key: <key>``: an application key (business systems; only where an endpoint allows it);
- the browser session cookie, CSRF-checked on unsafe methods.

A request that carries explicit credentials (a bearer token or an app key) is judged by them alone:
the session authenticator stands aside, so a stale or foreign session cookie can neither add a CSRF
refusal to a token write nor stand in for a wrong token. Browsers cannot add those headers to a
cross-site request without a CORS preflight (which Shoal never grants), so skipping the CSRF check
for them opens nothing.

Core imports no app: the token and application models are looked up through the app registry.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from shoal.core.errors import PermissionDenied, ShoalError

BEARER_PREFIX = "bearer "


def _carries_credentials(request: HttpRequest) -> bool:
    auth = request.headers.get("Authorization", "")
    return auth.lower().startswith(BEARER_PREFIX) or bool(request.headers.get("X-App-Key"))


def user_may_call(user) -> bool:
    """An account may call the API: active and not waiting for a password change."""
    return bool(user is not None and user.is_authenticated and user.is_active
                and not getattr(user, "must_change_password", False))


class ActiveSessionAuth(SessionAuth):
    """The browser session, CSRF-checked on writes; refused while a password change is pending.

    Stands aside (returns None before any CSRF check) when the request carries a token or an app
    key, or when there is no logged-in session, so the next authenticator is tried."""

    def __call__(self, request: HttpRequest) -> Any | None:
        if _carries_credentials(request):
            return None
        user = getattr(request, "user", None)
        if not user_may_call(user):
            return None
        self._get_key(request)  # raises 403 "CSRF check Failed" on an unsafe method without the token
        return user

    def authenticate(self, request, key):  # pragma: no cover - __call__ does the work
        return request.user if user_may_call(request.user) else None


class PersonalToken(HttpBearer):
    """``Authorization: Bearer <token>``: a personal token of an active user.

    A token of a user who must change their password first is refused with that reason."""

    def authenticate(self, request, token):
        ApiToken = apps.get_model("accounts", "ApiToken")
        user = ApiToken.user_for(token)
        if user is None:
            return None
        if getattr(user, "must_change_password", False):
            raise ShoalError("password_change_required",
                             _("Change the initial password first; until then this token is refused"),
                             status=403)
        request.user = user
        return user


class AppKey(APIKeyHeader):
    """``X-App-Key`` of an enabled application (for ingestion endpoints), called from an address its IP
    allow list admits (403 ``ip_not_allowed`` otherwise)."""

    param_name = "X-App-Key"

    def authenticate(self, request, key):
        Application = apps.get_model("accounts", "Application")
        app = Application.from_key(key or "")
        if app is not None:
            from .request_context import client_ip

            if not app.allows_ip(client_ip(request)):
                raise ShoalError("ip_not_allowed", _("This application may not call from this address"),
                                 {"ip": client_ip(request)}, status=403)
            Application.objects.filter(pk=app.pk).update(last_used_at=timezone.now())
            request.application = app
        return app


session_auth = ActiveSessionAuth()
token_auth = PersonalToken()
app_key_auth = AppKey()
USER_AUTH = [token_auth, session_auth]  # people: personal token or browser session
ANY_AUTH = [token_auth, app_key_auth, session_auth]  # people or business systems


def calling_user(request: HttpRequest):
    """The user behind the request, or 403 when an application (not a person) is calling."""
    user = getattr(request, "auth", None)
    if not isinstance(user, get_user_model()):
        raise PermissionDenied(_("This endpoint is for users, not applications"))
    return user


def require(request: HttpRequest, code: str) -> None:
    """Raise 403 unless the calling user holds the permission ``code``."""
    user = getattr(request, "auth", None)
    if not isinstance(user, get_user_model()) or not user.has_shoal_perm(code):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                         {"permission": code}, status=403)


# -- pages ----------------------------------------------------------------------------------------
def user_can(user, code: str) -> bool:
    """The one permission test of pages, admin screens and the sidebar: an active, logged-in user
    holding the menu permission ``code`` (``<menu>.<action>``)."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_shoal_perm(code))


def require_page(request: HttpRequest, code: str) -> None:
    """403 (Shoal's error page) unless the user holds ``code``."""
    if not user_can(getattr(request, "user", None), code):
        raise DjangoPermissionDenied(code)


def page_requires(code: str):
    """Decorator of a page view: ``@page_requires("system.parameters.view")``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            require_page(request, code)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
