"""The events app's system parameters (参数配置)."""

from django.utils.translation import gettext_lazy as _

from shoal.core.parameters import Parameter, register

RETENTION_DAYS = register(Parameter(
    "EVENTS_RETENTION_DAYS", _("Event history kept (days)"), "int", 180, group="events", min_value=1, max_value=3650,
    help=_("Older events leave the event history (a daily job); per-customer event statistics are kept.")))
RATE_LIMIT = register(Parameter(
    "EVENTS_RATE_LIMIT", _("Events per second per application"), "int", 20000, group="events", min_value=1,
    max_value=10_000_000, help=_("More in one second are refused with 429 and a Retry-After header.")))
MAX_EVENT_BYTES = register(Parameter(
    "EVENTS_MAX_EVENT_BYTES", _("Largest event (bytes)"), "int", 32768, group="events", min_value=1024,
    max_value=1_048_576, help=_("A larger event is refused and recorded in the event history.")))
