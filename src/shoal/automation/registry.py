"""What the automation app plugs into: permissions and menus, pages, operation-log words, the SMS and email
processors, the webhook retry sweep and the logs' retention."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import CRUD, Menu, register_menu
from shoal.core.processors import register_processor
from shoal.core.site import site
from shoal.schedules.registry import register_job

from . import messaging, params, views  # noqa: F401  (params: the log retention)

for _menu in (
    Menu("marketing.processors", _("Processor registry"), "marketing", CRUD, "admin:automation_processors",
         "extension", order=20),
    Menu("system.message_templates", _("Message templates"), "system", CRUD, "admin:automation_templates",
         "sms", order=60),
    Menu("system.sms_log", _("SMS log"), "system", ("view",), "admin:automation_sms_log", "textsms", order=82),
    Menu("system.email_log", _("Email log"), "system", ("view",), "admin:automation_email_log", "mail", order=83),
):
    register_menu(_menu)

register_action_labels({
    "processor.create": _("Register processor"),
    "processor.update": _("Edit processor"),
    "processor.delete": _("Delete processor"),
    "processor.rotate_secret": _("Renew processor secret"),
    "message_template.create": _("Add message template"),
    "message_template.update": _("Edit message template"),
    "message_template.delete": _("Delete message template"),
})

register_processor(messaging.SMS)
register_processor(messaging.EMAIL)

for _route, _view, _name in (
    ("automation/processors/", views.processor_list_page, "automation_processors"),
    ("automation/processors/add/", views.processor_edit_page, "automation_processor_add"),
    ("automation/processors/<int:pk>/", views.processor_edit_page, "automation_processor_edit"),
    ("automation/processors/<int:pk>/delete/", views.processor_delete_view, "automation_processor_delete"),
    ("automation/processors/<int:pk>/secret/", views.processor_secret_view, "automation_processor_secret"),
    ("automation/templates/", views.template_list_page, "automation_templates"),
    ("automation/templates/add/<str:channel>/", views.template_edit_page, "automation_template_add"),
    ("automation/templates/<int:pk>/", views.template_edit_page, "automation_template_edit"),
    ("automation/templates/<int:pk>/delete/", views.template_delete_view, "automation_template_delete"),
    ("automation/sms-log/", views.sms_log_page, "automation_sms_log"),
    ("automation/email-log/", views.email_log_page, "automation_email_log"),
):
    site.register_page(_route, _view, _name)


@register_job("automation.deliveries", cron="*/5 * * * *",
              description=gettext_noop("Retry due webhook deliveries of custom processors"))
def deliveries_job():
    from .webhooks import deliveries_run

    return deliveries_run()


@register_job("automation.prune", cron="50 3 * * *",
              description=gettext_noop("Remove processor calls and SMS and email logs older than "
                                       "AUTOMATION_LOG_RETENTION_DAYS"))
def prune_job():
    from .retention import prune_logs

    return prune_logs()
