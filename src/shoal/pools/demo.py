"""Demo pool rules, so a fresh installation shows the seas at work:

- a group rule: East China customers go from the company public sea to the first demo group;
- an assignment rule per demo group: first-tier cities, shared out evenly by quality up to a private sea of
  250; the others stay in the group public sea to be claimed;
- a recycle rule per demo group: 7 days without follow-up, a warning 2 days before, the previous owner kept
  off for 3 days.

Created only when no pool rule exists; then the group and assignment rules run once."""

from __future__ import annotations

from shoal.core.actors import SYSTEM
from shoal.customers.demo import DEMO_GROUPS
from shoal.customers.models import CustomerGroup

from .models import AssignmentRule, GroupRule, RecycleRule
from .services import rules


def ensure_demo_rules() -> dict[str, int]:
    if GroupRule.objects.exists() or AssignmentRule.objects.exists() or RecycleRule.objects.exists():
        return {}
    groups = list(CustomerGroup.objects.filter(name__in=DEMO_GROUPS).order_by("pk"))
    if not groups:
        return {}
    CustomerGroup.objects.filter(pk__in=[g.pk for g in groups], capacity__isnull=True).update(capacity=250,
                                                                                           daily_claim_limit=20)
    rules.group_rule_create(actor=SYSTEM, data={
        "name": "华东客户进华东大客户组", "order": 1, "source_group_id": None, "target_group_id": groups[0].pk,
        "sql": "city IN ('上海', '杭州', '南京', '苏州')", "break_relations": False, "enabled": True})
    for group in groups:
        rules.assignment_rule_create(actor=SYSTEM, group=group, data={
            "name": "一线城市客户按质量平均分配", "order": 1, "enabled": True,
            "sql": "city IN ('上海', '北京', '深圳', '广州')"})
        rules.recycle_rule_create(actor=SYSTEM, group=group, data={
            "name": "7天未跟进回收", "order": 1, "kind": "no_follow_up", "days": 7, "warn_days": 2,
            "cooldown_days": 3, "target": "group_sea", "enabled": True})
    from .engine import run_assignment, run_group_rules

    grouped = run_group_rules()
    assigned = run_assignment()
    return {"grouped": grouped.get("grouped", 0), "assigned": assigned.get("assigned", 0)}
