"""What the events app plugs into: menus and permissions, pages, operation-log words, parameters, jobs,
the condition language, the customer detail's events tab, and the hooks later apps fill
(``register_event_processor``, ``register_event_type_users``: see ``hooks.py``)."""

from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.auth import user_can
from shoal.core.oplog import register_action_labels
from shoal.core.permissions import CRUD, Menu, register_menu
from shoal.core.site import site
from shoal.customers.page_extensions import DetailTabExtension, register_detail_tab
from shoal.customers.services import customer_merging
from shoal.customers.signals import customers_deleting
from shoal.schedules.registry import register_job

from . import conditions, params, views  # noqa: F401  (conditions: event_count / last_event in conditions)
from .hooks import (  # noqa: F401  (the hooks, importable from here)
    StoredEvent,
    register_event_processor,
    register_event_type_users,
    unregister_event_processor,
    unregister_event_type_users,
)

register_menu(Menu("marketing.event_types", _("Event registry"), "marketing", CRUD, "admin:event_types", "bolt",
                   order=10))
register_menu(Menu("marketing.event_history", _("Event history"), "marketing", ("view",), "admin:event_history",
                   "manage_history", order=50))
# sending events with a personal token or a session (applications send with their key)
register_menu(Menu("marketing.events", _("Send events"), "marketing", ("create",), None, "send", order=90))

register_action_labels({
    "event_type.create": _("Register event type"),
    "event_type.update": _("Edit event type"),
    "event_type.delete": _("Delete event type"),
    "event_type.enable": _("Enable event types"),
    "event_type.disable": _("Disable event types"),
    "event_type.import_builtins": _("Import built-in event types"),
})

site.register_page("marketing/event-types/", views.event_types_page, "event_types")
site.register_page("marketing/event-types/action/", views.event_types_action, "event_types_action")
site.register_page("marketing/event-types/add/", views.event_type_form, "event_type_add")
site.register_page("marketing/event-types/<int:type_id>/", views.event_type_form, "event_type_edit")
site.register_page("marketing/event-types/<int:type_id>/delete/", views.event_type_delete, "event_type_delete")
site.register_page("marketing/event-history/", views.event_history_page, "event_history")


def _events_tab(request, customer):
    return views.customer_events_tab(request, customer) if user_can(request.user, "customers.customers.view") else None


register_detail_tab(DetailTabExtension("events", _("Events"), _events_tab, order=10))


@register_job("events.process", cron="*/5 * * * *",
              description=gettext_noop("Process accepted events left in the queue (per-customer statistics, "
                                       "strategies); ingestion also queues this at once"))
def process_job():
    from .services.processing import process_pending

    return process_pending(max_seconds=240)


@register_job("events.prune", cron="40 3 * * *",
              description=gettext_noop("Remove event history older than EVENTS_RETENTION_DAYS (statistics stay); "
                                       "prepare the coming months' partitions"))
def prune_job():
    from .services.retention import prune_history

    return prune_history()


@receiver(customers_deleting)
def _customers_deleting(sender, customer_ids, **kwargs):
    from .services.stats import delete_customer_stats

    delete_customer_stats(customer_ids)


@receiver(customer_merging)
def _merge_stats(sender, keep, other, actor, **kwargs):
    from .services.stats import merge_customer_stats

    merge_customer_stats(source_id=other.pk, target_id=keep.pk)
