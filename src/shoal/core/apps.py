from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "shoal.core"
    label = "core"
    verbose_name = _("System")

    def ready(self):
        from .site import site
        from .views import parameters_page

        site.register_page("system/parameters/", parameters_page, "parameters")
