"""What the pools add to every customer output: ``groups`` (group, salesperson, assigned at), ``invited_by``
and ``last_follow_up_at``, read for a whole page at once (two queries, never one per customer)."""

from __future__ import annotations

from shoal.core.db import ids_subquery
from shoal.customers.models import Customer, CustomerGroupMembership


def customer_pool_outputs(*, viewer, customer_ids) -> dict[int, dict]:
    ids = list(customer_ids)
    out: dict[int, dict] = {pk: {"groups": [], "invited_by": None, "last_follow_up_at": None} for pk in ids}
    if not ids:
        return out
    for pk, invited_by, last in Customer.objects.filter(pk__in=ids_subquery(ids)).values_list(
            "pk", "invited_by_id", "last_follow_up_at"):
        out[pk]["invited_by"] = invited_by
        out[pk]["last_follow_up_at"] = last
    rows = (CustomerGroupMembership.objects.filter(customer_id__in=ids_subquery(ids))
            .order_by("customer_id", "group_id")
            .values_list("customer_id", "group_id", "group__name", "salesperson_id", "salesperson__name",
                         "salesperson__username", "assigned_at"))
    for pk, group_id, group, sp_id, sp_name, sp_username, assigned_at in rows:
        out[pk]["groups"].append({"group_id": group_id, "group": group, "salesperson_id": sp_id,
                                  "salesperson": (sp_name or sp_username) if sp_id else None,
                                  "assigned_at": assigned_at})
    return out
