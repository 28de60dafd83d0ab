from django.conf import settings
from django.urls import path
from django.views.static import serve

from shoal.accounts.views import set_language
from shoal.api import api
from shoal.core.site import site
from shoal.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", api.urls),
    path("language/", set_language, name="language"),
    path("media/<path:path>", site.admin_view(serve), {"document_root": settings.MEDIA_ROOT}),
    path("", site.urls),
]
