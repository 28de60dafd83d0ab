"""The JSON API (django-ninja): endpoints under /api/v1/, OpenAPI at /api/openapi.json, docs at /api/docs.

Auth, one error shape for every 4xx, and the routers of every app."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from shoal.core.errors import ShoalError

logger = logging.getLogger("shoal.api")


class ActiveSessionAuth(SessionAuth):
    """The browser session (CSRF-checked on writes); refused while a password change is pending."""

    def authenticate(self, request, key):
        user = request.user
        if user.is_authenticated and user.is_active and not user.must_change_password:
            return user
        return None


class PersonalToken(HttpBearer):
    def authenticate(self, request, token):
        from shoal.accounts.models import ApiToken

        user = ApiToken.user_for(token)
        if user is not None:
            request.user = user
        return user


class AppKey(APIKeyHeader):
    """``X-App-Key`` of an enabled application (for ingestion endpoints)."""

    param_name = "X-App-Key"

    def authenticate(self, request, key):
        from shoal.accounts.models import Application

        app = Application.from_key(key or "")
        if app is not None:
            Application.objects.filter(pk=app.pk).update(last_used_at=timezone.now())
            request.application = app
        return app


session_auth = ActiveSessionAuth()
token_auth = PersonalToken()
app_key_auth = AppKey()
USER_AUTH = [session_auth, token_auth]  # people: browser session or personal token
ANY_AUTH = [session_auth, token_auth, app_key_auth]  # people or business systems

api = NinjaAPI(
    title="Shoal API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=USER_AUTH,
)


def error_response(request, status: int, code: str, message: str, detail=None):
    return api.create_response(request, {"error": {"code": code, "message": message, "detail": detail or {}}},
                               status=status)


@api.exception_handler(ShoalError)
def _shoal_error(request, exc: ShoalError):
    return error_response(request, exc.status, exc.code, exc.message, exc.detail)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload")]
        errors.append({"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type", "")})
    return error_response(request, 400, "validation_error", "The request is not valid", {"errors": errors})


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return error_response(request, 401, "unauthorized",
                          "Log in, or send 'Authorization: Bearer <token>' (or X-App-Key where allowed)")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    codes = {400: "bad_request", 401: "unauthorized", 403: "permission_denied", 404: "not_found",
             405: "method_not_allowed", 409: "conflict", 429: "throttled"}
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc.message))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, 404, "not_found", "Not found")


@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request, exc):
    return error_response(request, 403, "permission_denied", str(exc) or "Permission denied")


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("unexpected API error")
    return error_response(request, 500, "internal_error", "Unexpected error; it has been logged")


def require(request, code: str) -> None:
    """Raise 403 unless the authenticated user holds the permission ``code``."""
    user = getattr(request, "auth", None)
    from shoal.accounts.models import User

    if not isinstance(user, User) or not user.has_shoal_perm(code):
        raise ShoalError("permission_denied", f"Missing permission {code}", {"permission": code}, status=403)


def _register_routers():
    from shoal.accounts.api import router as accounts_router
    from shoal.core.api import router as core_router
    from shoal.customers.api import router as customers_router
    from shoal.schedules.api import router as schedules_router
    from shoal.segments.api import router as segments_router

    api.add_router("/v1/", accounts_router)
    api.add_router("/v1/", core_router)
    api.add_router("/v1/", schedules_router)
    api.add_router("/v1/", segments_router)  # before customers: /customers/search is not a customer id
    api.add_router("/v1/", customers_router)


_register_routers()


# -- request limits (issue 8 §3/§4): JSON bodies must be objects; a body over the size limit is a 413 --
def _install_limits():
    from django.core.exceptions import RequestDataTooBig

    from shoal.core.schemas import ObjectBodyParser

    api.parser = ObjectBodyParser()

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request, exc):
        from shoal.core.middleware import too_large_detail

        message, detail = too_large_detail()
        return error_response(request, 413, "too_large", message, detail)


_install_limits()
