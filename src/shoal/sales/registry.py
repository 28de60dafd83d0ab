"""What the sales app plugs into: the follow-up permissions and operation-log words, the follow-up workspace
(客户跟进任务) page."""

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu
from shoal.core.site import site

from . import views_workspace

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
