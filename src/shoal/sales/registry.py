"""What the sales app plugs into: the follow-up, task and in-site message permissions, the task center, notification
and message pages, operation-log words, the reminder parameter and job."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.oplog import register_action_labels
from shoal.core.parameters import Parameter, register
from shoal.core.permissions import ACTION_LABELS, CRUD, Menu, register_menu
from shoal.core.site import site
from shoal.schedules.registry import register_job

from . import (
    boards,  # noqa: F401  (the workbench boards)
    tasks,
    views_messages,
    views_tasks,
    views_workspace,
)
from .services import messages as message_services

register_menu(Menu("sales.follow_ups", _("Follow-ups"), "sales", ("view", "create"), None, "call", order=30))
register_menu(Menu("sales.follow_up_tasks", _("Customer follow-up tasks"), "sales", (), "admin:sales_workspace",
                   "assignment_turned_in", view_permission="sales.follow_ups.view", order=31))
register_action_labels({"follow_up.create": _("Record a follow-up")})

# -- the follow-up workspace (客户跟进任务) --------------------------------------------------------------------
for _route, _view, _name in (
    ("sales/follow-up-tasks/", views_workspace.workspace_page, "sales_workspace"),
    ("sales/follow-up-tasks/request/", views_workspace.workspace_request, "sales_workspace_request"),
    ("sales/follow-up-tasks/<int:task_id>/record/", views_workspace.workspace_record, "sales_workspace_record"),
    ("sales/follow-up-tasks/<int:task_id>/form/", views_workspace.workspace_record_form,
     "sales_workspace_record_form"),
):
    site.register_page(_route, _view, _name)

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

# -- tasks: the task center (任务中心)
register_menu(Menu("sales.tasks", _("Task center"), "sales", CRUD, "admin:sales_tasks", "task_alt", order=10))
register_action_labels({
    "task.create": _("Create task"),
    "task.update": _("Edit task"),
    "task.delete": _("Delete task"),
    "task.batch_update": _("Change tasks in batch"),
})
for _route, _view, _name in (
    ("sales/tasks/", views_tasks.task_center, "sales_tasks"),
    ("sales/tasks/add/", views_tasks.task_form, "sales_task_add"),
    ("sales/tasks/<int:task_id>/", views_tasks.task_form, "sales_task_edit"),
    ("sales/tasks/<int:task_id>/delete/", views_tasks.task_delete_view, "sales_task_delete"),
    ("sales/tasks/<int:task_id>/move/", views_tasks.task_move_view, "sales_task_move"),
    ("sales/tasks/<int:task_id>/done/", views_tasks.task_done_view, "sales_task_done"),
    ("sales/tasks/<int:task_id>/field/", views_tasks.task_field_view, "sales_task_field"),
    ("sales/tasks/batch/", views_tasks.task_batch_view, "sales_task_batch"),
    ("sales/tasks/customers/", views_tasks.customer_choices, "sales_task_customers"),
):
    site.register_page(_route, _view, _name)
# end tasks

# -- automation: the sales processors (processor registry) ---------------------------------------------------
def _register_processors():
    from shoal.core.processors import register_processor

    from .processors import NOTIFY, TASK

    register_processor(TASK)
    register_processor(NOTIFY)


_register_processors()
