from django.conf import settings
from django.templatetags.static import static
from django.urls import path, re_path
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from django.views.static import serve

from shoal.accounts.views import set_language
from shoal.api import api
from shoal.core.errors import error_response
from shoal.core.site import site
from shoal.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # browsers ask for /favicon.ico whatever the page says
    path("favicon.ico", RedirectView.as_view(url=static("shoal/favicon.svg"), permanent=True)),
    path("api/", api.urls),
    re_path(r"^api/", csrf_exempt(lambda request: error_response(  # a 404 for every method, not a CSRF 403
        404, "not_found", gettext("No such API endpoint"), {"path": request.path}))),
    path("language/", set_language, name="language"),
    path("media/<path:path>", site.admin_view(serve), {"document_root": settings.MEDIA_ROOT}),
    path("", site.urls),
]

handler404 = "shoal.core.errorpages.page_not_found"
handler403 = "shoal.core.errorpages.permission_denied"
handler400 = "shoal.core.views.bad_request"
