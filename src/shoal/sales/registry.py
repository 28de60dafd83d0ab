"""What the sales app plugs into: the follow-up and task permissions, menus, pages and operation-log words."""

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import CRUD, Menu, register_menu

register_menu(Menu("sales.follow_ups", _("Follow-ups"), "sales", ("view", "create"), None, "call", order=30))
register_action_labels({"follow_up.create": _("Record a follow-up")})

# -- tasks: the task center (任务中心)
from shoal.core.site import site  # noqa: E402

from . import views_tasks  # noqa: E402

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
