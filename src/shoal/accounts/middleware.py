from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation

from shoal.core.errors import error_response


class UserLanguageMiddleware:
    """Activate the language the user chose (saved on the user), else what LocaleMiddleware found;
    under /api/ without Accept-Language, English."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        elif request.path.startswith("/api/") and "HTTP_ACCEPT_LANGUAGE" not in request.META:
            # Integrators get English API messages unless they ask (Accept-Language) or the user chose a
            # language; pages keep the site's default language (zh-hans).
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        return self.get_response(request)


class ForcePasswordChangeMiddleware:
    """Users with the initial (or a reset) password can only change it, or log out."""

    ALLOWED_PREFIXES = ("/static/", "/healthz", "/language/", "/i18n/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.must_change_password:
            allowed = {reverse("admin:password_change"), reverse("admin:password_change_done"),
                       reverse("admin:logout")}
            path = request.path
            if path not in allowed and not path.startswith(self.ALLOWED_PREFIXES):
                if path.startswith("/api/"):
                    return error_response(403, "password_change_required",
                                          translation.gettext("Change the initial password first"))
                return redirect(reverse("admin:password_change") + "?forced=1")
        return self.get_response(request)
