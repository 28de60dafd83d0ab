"""What the sales app plugs into: menus, pages and customer outputs."""

# ops: follow-ups and notifications ------------------------------------------------------------------------
from django.utils.translation import gettext_lazy as _ops_  # noqa: E402

from shoal.core.oplog import register_action_labels as _ops_labels  # noqa: E402
from shoal.core.permissions import Menu as _OpsMenu  # noqa: E402
from shoal.core.permissions import register_menu as _ops_register_menu  # noqa: E402

_ops_register_menu(_OpsMenu("sales.follow_ups", _ops_("Follow-ups"), "sales", ("view", "create"), None,
                            "call", order=30))
_ops_labels({"follow_up.create": _ops_("Record a follow-up")})
# end ops
