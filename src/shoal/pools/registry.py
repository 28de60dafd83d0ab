"""What the pools app plugs into: menus, pages, jobs and customer outputs."""

# ops: manual operations on customers (group, assign, claim, return, recycle bin, restore, transfer) ------
from django.utils.translation import gettext_lazy as _ops_  # noqa: E402

from shoal.core.oplog import register_action_labels as _ops_labels  # noqa: E402
from shoal.core.permissions import ACTION_LABELS as _OPS_ACTION_LABELS  # noqa: E402
from shoal.core.permissions import Menu as _OpsMenu  # noqa: E402
from shoal.core.permissions import register_menu as _ops_register_menu  # noqa: E402

for _code, _label in {"group": _ops_("Group"), "claim": _ops_("Claim"), "return": _ops_("Return to a public sea"),
                      "recycle_bin": _ops_("Put in the recycle bin"), "restore": _ops_("Restore from the recycle bin"),
                      "transfer": _ops_("Transfer")}.items():
    _OPS_ACTION_LABELS.setdefault(_code, _label)
_ops_register_menu(_OpsMenu("pools.seas", _ops_("Customer seas"), "sales",
                            ("view", "group", "assign", "claim", "return", "recycle_bin", "restore", "transfer"),
                            None, "waves", order=20))
_ops_register_menu(_OpsMenu("pools.logs", _ops_("Pool logs"), "sales", ("view",), None, "history", order=60))
_ops_labels({
    "customers.batch.group": _ops_("Group customers"),
    "customers.batch.assign": _ops_("Assign customers"),
    "customers.batch.claim": _ops_("Claim customers"),
    "customers.batch.return_to_group_sea": _ops_("Return customers to the group public sea"),
    "customers.batch.return_to_company_sea": _ops_("Return customers to the company public sea"),
    "customers.batch.recycle_bin": _ops_("Put customers in the recycle bin"),
    "customers.batch.restore": _ops_("Restore customers from the recycle bin"),
    "transfer.create": _ops_("Transfer customers"),
})

from shoal.customers.extensions import register_output_extension as _ops_output  # noqa: E402

from .customer_outputs import customer_pool_outputs as _ops_pool_outputs  # noqa: E402

_ops_output(_ops_pool_outputs)  # "groups", "invited_by", "last_follow_up_at" in customer outputs
# end ops
