"""The automation app's system parameters (参数配置)."""

from django.utils.translation import gettext_lazy as _

from shoal.core.parameters import Parameter, register

LOG_RETENTION_DAYS = register(Parameter(
    "AUTOMATION_LOG_RETENTION_DAYS", _("Processor calls, SMS and email logs kept (days)"), "int", 180,
    group="marketing", min_value=1, max_value=3650,
    help=_("Older processor calls (with their webhook attempts) and SMS and email log entries are removed by a "
           "daily job; calls still waiting for a retry stay.")))
