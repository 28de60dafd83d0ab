from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "shoal.core"
    label = "core"
    verbose_name = _("System")

    def ready(self):
        from . import admin_lists
        from .site import site

        admin_lists.install()  # unfold list pages: headers once per page, not once per row
        admin_lists.install_fast_cells()  # and the cells from a plan made once per page
        from .views import parameters_page

        site.register_page("system/parameters/", parameters_page, "parameters")
        from .views_workbench import register_pages

        register_pages(site)  # the workbench: one board, the user's choice, the defaults per role
