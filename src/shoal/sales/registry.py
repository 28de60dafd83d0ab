"""What the sales app plugs into: the follow-up permissions and operation-log words."""

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu

from . import boards  # noqa: F401  (the workbench boards)

register_menu(Menu("sales.follow_ups", _("Follow-ups"), "sales", ("view", "create"), None, "call", order=30))
register_action_labels({"follow_up.create": _("Record a follow-up")})
