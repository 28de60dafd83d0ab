"""What the imports app plugs into: parameters, jobs, menus and pages, operation-log words."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.parameters import Parameter, register
from shoal.schedules.registry import register_job

MAX_MB = register(Parameter(
    "IMPORT_MAX_MB", _("Largest import file (MB)"), "int", 100, group="customers", min_value=1, max_value=2048,
    help=_("Customer import files above this size are refused before they are read.")))


@register_job("imports.resume", cron="* * * * *",
              description=gettext_noop("Resume customer imports whose worker stopped (after their last saved batch)"))
def resume_job():
    from .services import resume_stalled

    return {"resumed": resume_stalled()}


@register_job("imports.purge_drafts", cron="40 3 * * *",
              description=gettext_noop("Delete uploaded import files that were never started (after a day)"))
def purge_drafts_job():
    from .services import purge_drafts

    return {"purged": purge_drafts()}


def _pages():
    from . import export_registry, views  # noqa: F401  (menus, pages and list actions register themselves)


_pages()
