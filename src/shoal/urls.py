from django.conf import settings
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve

from shoal.accounts.views import set_language
from shoal.api import api
from shoal.core.site import site
from shoal.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", api.urls),
    re_path(r"^api/", csrf_exempt(lambda request: JsonResponse(  # a 404 for every method, not a CSRF 403
        {"error": {"code": "not_found", "message": "No such API endpoint", "detail": {"path": request.path}}},
        status=404))),
    path("language/", set_language, name="language"),
    path("media/<path:path>", site.admin_view(serve), {"document_root": settings.MEDIA_ROOT}),
    path("", site.urls),
]

handler404 = "shoal.core.errorpages.page_not_found"
handler403 = "shoal.core.errorpages.permission_denied"
handler400 = "shoal.core.views.bad_request"
