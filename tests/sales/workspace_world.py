"""The follow-up workspace's test world, shared by the service, page, HTTP and browser tests: a salesperson
(李小丹) in a group (电销一组) that lets its salespeople request customers, three customers assigned to her (each
with a follow-up task from the assignment), public-sea customers to request, and a customer outside her scope."""

from __future__ import annotations

import importlib

from django.apps import apps

from shoal.accounts.models import DataScope, MaskingPolicy, Role
from shoal.customers.models import Customer, CustomerGroup
from shoal.customers.quality import set_scores
from shoal.pools import moves
from shoal.sales.models import Task, TaskPriority
from tests.conftest import make_user

SALES = ["customers.customers.view", "customers.customers.edit", "pools.seas.view", "pools.seas.claim",
         "sales.follow_ups.view", "sales.follow_ups.create"]


def seed_follow_up_enums() -> None:
    """The enums of migration customers/0013 again (a transactional test flushes what migrations wrote)."""
    migration = importlib.import_module("shoal.customers.migrations.0013_follow_up_enums")
    migration.forwards(apps, None)


def build(*, masking_policy: str = MaskingPolicy.EXCEPT_ASSIGNED) -> dict:
    seed_follow_up_enums()
    role = Role.objects.create(name="跟进业务员", code="ws_sales", data_scope=DataScope.OWN, permissions=SALES)
    sales = make_user("xiaodan", role, name="李小丹", masking_policy=masking_policy)
    other = make_user("xiaowang", role, name="王小二")
    group = CustomerGroup.objects.create(name="电销一组", request_tasks=True, request_times_per_day=2, request_size=2)
    group.salespeople.add(sales, other)
    mine = [Customer.objects.create(name=name, mobile=f"+86138001380{i:02d}")
            for i, name in enumerate(["张三", "李四", "王五"])]
    sea = [Customer.objects.create(name=f"公海客户{i}", mobile=f"+86139000000{i:02d}") for i in range(5)]
    set_scores({**{c.pk: s for c, s in zip(mine, [10, 50, 30], strict=True)}, **{c.pk: 20 - i for i, c in enumerate(sea)}})
    outside = Customer.objects.create(name="别人的客户", mobile="+8613700000000")
    ctx = moves.context(None)
    moves.join_group([c.pk for c in mine + sea] + [outside.pk], group.pk, ctx)
    moves.assign([(c.pk, sales.pk) for c in mine] + [(outside.pk, other.pk)], group.pk, ctx)
    tasks = {c.name: Task.objects.get(owner=sales, customer=c) for c in mine}
    Task.objects.filter(pk=tasks["张三"].pk).update(priority=TaskPriority.URGENT)
    return {"sales": sales, "other": other, "group": group, "mine": mine, "sea": sea, "outside": outside,
            "tasks": {name: Task.objects.get(pk=t.pk) for name, t in tasks.items()}, "role": role}
