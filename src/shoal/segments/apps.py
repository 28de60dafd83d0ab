from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "shoal.segments"
    label = "segments"
    verbose_name = _("Queries and segments")

    def ready(self):
        from . import registry  # noqa: F401  (menus)
