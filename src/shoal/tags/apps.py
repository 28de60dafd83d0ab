from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TagsConfig(AppConfig):
    name = "shoal.tags"
    label = "tags"
    verbose_name = _("Tags")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, jobs, condition keys, timeline source)
