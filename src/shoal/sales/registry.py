"""What the sales app plugs into: the follow-up and in-site message permissions, the notification and message
pages, operation-log words, the reminder parameter and job."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.oplog import register_action_labels
from shoal.core.parameters import Parameter, register
from shoal.core.permissions import ACTION_LABELS, Menu, register_menu
from shoal.core.site import site
from shoal.schedules.registry import register_job

from . import (
    boards,  # noqa: F401  (the workbench boards)
    tasks,
    views_messages,
)
from .services import messages as message_services

register_menu(Menu("sales.follow_ups", _("Follow-ups"), "sales", ("view", "create"), None, "call", order=30))
register_action_labels({"follow_up.create": _("Record a follow-up")})

# -- notifications and in-site messages (站内通知) --------------------------------------------------------------
ACTION_LABELS.setdefault("send", _("Send"))
register_menu(Menu("sales.messages", _("In-site messages"), "sales", ("view", "create", "send"), "admin:messages",
                   "campaign", order=60))
register_action_labels({"message.create": _("Write an in-site message"),
                        "message.update": _("Edit an in-site message"),
                        "message.send": _("Send an in-site message"),
                        "message.delete": _("Delete an in-site message")})
register(Parameter("TASK_REMINDER_EMAIL", _("Task reminders by email"), "bool", False, group="sales",
                   help=_("Also email task reminders and overdue notices to their owners (needs SHOAL_SMTP_HOST).")))
for _route, _view, _name in (
    ("sales/notifications/", views_messages.notification_list_page, "notifications"),
    ("sales/notifications/read/", views_messages.notifications_read, "notifications_read"),
    ("sales/notifications/bell/", views_messages.bell_menu, "notifications_bell"),
    ("sales/notifications/<int:pk>/open/", views_messages.notification_open_view, "notification_open"),
    ("sales/messages/", views_messages.message_list_page, "messages"),
    ("sales/messages/add/", views_messages.message_form_page, "message_add"),
    ("sales/messages/<int:pk>/", views_messages.message_form_page, "message_edit"),
    ("sales/messages/<int:pk>/receipts/", views_messages.message_receipts_page, "message_receipts"),
    ("sales/messages/<int:pk>/read/", views_messages.message_read_page, "message_read"),
    ("sales/messages/<int:pk>/delete/", views_messages.message_delete_view, "message_delete"),
    ("sales/messages/<int:pk>/attachments/<int:attachment_id>/", views_messages.attachment_download,
     "message_attachment"),
    ("sales/messages/<int:pk>/attachments/<int:attachment_id>/delete/", views_messages.attachment_delete_view,
     "message_attachment_delete"),
):
    site.register_page(_route, _view, _name)
message_services.connect_signals()

register_job("sales.reminders", cron="* * * * *",
             description=gettext_noop("Send due task reminders, overdue notices and scheduled in-site messages"))(
    tasks.reminders_job)
