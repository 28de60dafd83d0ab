"""The JSON API (django-ninja): endpoints under /api/v1/, OpenAPI at /api/openapi.json, docs at /api/docs.

This module only assembles: the API object, its exception handlers (one error shape for every 4xx,
built by ``shoal.core.errors``) and the routers of every app. Authentication and permission checks
live in ``shoal.core.auth``."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from shoal.core.auth import USER_AUTH
from shoal.core.errors import ShoalError, code_for_status, error_body

logger = logging.getLogger("shoal.api")

api = NinjaAPI(
    title="Shoal API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=USER_AUTH,
)


def error_response(request, status: int, code: str, message: str, detail=None):
    return api.create_response(request, error_body(code, message, detail), status=status)


@api.exception_handler(ShoalError)
def _shoal_error(request, exc: ShoalError):
    return error_response(request, exc.status, exc.code, exc.message, exc.detail)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload")]
        errors.append({"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type", "")})
    return error_response(request, 400, "validation_error", gettext("The request is not valid"), {"errors": errors})


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return error_response(request, 401, "unauthorized",
                          gettext("Log in, or send 'Authorization: Bearer <token>' (or X-App-Key where allowed)"))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return error_response(request, exc.status_code, code_for_status(exc.status_code), str(exc.message))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, 404, "not_found", gettext("Not found"))


@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request, exc):
    return error_response(request, 403, "permission_denied", str(exc) or gettext("Permission denied"))


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("unexpected API error")
    return error_response(request, 500, "internal_error", gettext("Unexpected error; it has been logged"))


def _register_routers():
    from shoal.accounts.api import router as accounts_router
    from shoal.core.api import router as core_router
    from shoal.customers.api import router as customers_router
    from shoal.imports.api import router as imports_router
    from shoal.imports.export_api import router as exports_router
    from shoal.pools.api_run import router as pools_run_router  # engine
    from shoal.schedules.api import router as schedules_router
    from shoal.segments.api import router as segments_router
    from shoal.tags.api import router as tags_router

    api.add_router("/v1/", accounts_router)
    api.add_router("/v1/", core_router)
    api.add_router("/v1/", schedules_router)
    api.add_router("/v1/", segments_router)  # before customers: /customers/search is not a customer id
    api.add_router("/v1/", tags_router)
    api.add_router("/v1/", imports_router)
    api.add_router("/v1/", exports_router)
    # ops: manual operations, transfers, pool logs; follow-ups, tasks, notifications (before customers:
    # /customers/batch is not a customer id)
    from shoal.pools.api_ops import router as pools_ops_router
    from shoal.sales.api import router as sales_router

    api.add_router("/v1/", pools_ops_router)
    api.add_router("/v1/", sales_router)
    # end ops
    # tasks: the task center (/tasks, /tasks/batch, /tasks/{id})
    from shoal.sales.api_tasks import router as tasks_router

    api.add_router("/v1/", tasks_router)
    # end tasks
    from shoal.events.api import router as events_router  # events: registry, ingestion, history

    api.add_router("/v1/", events_router)
    api.add_router("/v1/", customers_router)
    # -- pools: groups and their rules (helper "groups")
    from shoal.pools.api_groups import router as pool_groups_router

    api.add_router("/v1/", pool_groups_router)
    api.add_router("/v1/", pools_run_router)  # engine: POST /pools/run
    # notifications: the caller's notifications, in-site messages (helper "messages")
    from shoal.sales.api_notifications import router as notifications_router

    api.add_router("/v1/", notifications_router)
    # end notifications
    # workbench
    from shoal.core.api_workbench import router as workbench_router

    api.add_router("/v1/", workbench_router)
    # end workbench
    # automation: processors (built-in and custom HTTP), message templates
    from shoal.automation.api import router as automation_router

    api.add_router("/v1/", automation_router)
    # end automation
    # strategies: strategy groups, strategies (review, results), strategy tasks
    from shoal.strategies.api import router as strategies_router

    api.add_router("/v1/", strategies_router)
    # end strategies


_register_routers()


# -- request limits (issue 8 §3/§4): JSON bodies must be objects; a body over the size limit is a 413 --
def _install_limits():
    from django.core.exceptions import RequestDataTooBig
    from django.http.request import RawPostDataException

    from shoal.core.schemas import ObjectBodyParser

    api.parser = ObjectBodyParser()

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request, exc):
        from shoal.core.middleware import too_large_detail

        message, detail = too_large_detail()
        return error_response(request, 413, "too_large", message, detail)

    @api.exception_handler(RawPostDataException)
    def _form_body(request, exc):  # a form body of a session POST was read by the CSRF check: JSON is expected
        return error_response(request, 400, "bad_request", gettext("Send the body as JSON (Content-Type: application/json)"))


_install_limits()
