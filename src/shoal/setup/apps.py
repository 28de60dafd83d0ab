from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SetupConfig(AppConfig):
    """Running and first-run set-up of the whole product (``shoal run``, ``bootstrap``, ``demo``):
    the one place that knows every app, so that no app (and not core) has to know the others."""

    name = "shoal.setup"
    label = "setup"
    verbose_name = _("Set-up")
