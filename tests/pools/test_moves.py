"""The set-based moves: memberships, logs, timeline and tasks, and races decided by the database."""

import pytest

from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership, TimelineEntry
from shoal.pools import moves
from shoal.pools.models import AssignmentKind, AssignmentLog, GroupLog
from shoal.sales.models import OPEN_PROGRESS, Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    a, b = make_user("s_a"), make_user("s_b")
    group = CustomerGroup.objects.create(name="华东组")
    group.salespeople.add(a, b)
    customers = Customer.objects.bulk_create([Customer(name=f"c{i}") for i in range(6)])
    return group, a, b, [c.pk for c in customers]


def sales(group_id, pk):
    return CustomerGroupMembership.objects.get(group_id=group_id, customer_id=pk).salesperson_id


def test_join_then_assign_writes_logs_tasks_and_timeline(world):
    group, a, b, ids = world
    ctx = moves.context(None)
    assert moves.join_group(ids, group.pk, ctx) == ids
    assert moves.join_group(ids, group.pk, ctx) == []  # already there: nothing twice
    assert GroupLog.objects.filter(to_group=group).count() == 6
    done = moves.assign([(ids[0], a.pk), (ids[1], b.pk)], group.pk, ctx)
    assert sorted(done) == sorted([(ids[0], a.pk), (ids[1], b.pk)])
    assert sales(group.pk, ids[0]) == a.pk and sales(group.pk, ids[1]) == b.pk
    assert AssignmentLog.objects.filter(kind=AssignmentKind.ASSIGN).count() == 2
    assert Task.objects.filter(owner=a, customer_id=ids[0], progress__in=OPEN_PROGRESS).count() == 1
    assert TimelineEntry.objects.filter(customer_id=ids[0], kind="group").count() == 2
    entry = TimelineEntry.objects.filter(customer_id=ids[0], kind="group").order_by("-id").first()
    assert entry.new == f"华东组 → {a.name or a.username}" and entry.detail["salesperson_id"] == a.pk
    moves.unassign([ids[0]], group.pk, ctx)
    entry = TimelineEntry.objects.filter(customer_id=ids[0], kind="group").order_by("-id").first()
    assert entry.new == f"{a.name or a.username} → 华东组"


def test_a_customer_already_assigned_is_not_taken_again(world):
    group, a, b, ids = world
    ctx = moves.context(None)
    moves.join_group(ids, group.pk, ctx)
    moves.assign([(ids[0], a.pk)], group.pk, ctx)
    assert moves.assign([(ids[0], b.pk), (ids[1], b.pk)], group.pk, ctx) == [(ids[1], b.pk)]
    assert sales(group.pk, ids[0]) == a.pk
    assert AssignmentLog.objects.filter(customer_id=ids[0]).count() == 1


def test_unassign_reassign_and_leave(world):
    group, a, b, ids = world
    ctx = moves.context(None)
    moves.join_group(ids, group.pk, ctx)
    moves.assign([(pk, a.pk) for pk in ids[:4]], group.pk, ctx)
    assert moves.reassign(ids[:2], group.pk, a.pk, b.pk, ctx) == ids[:2]
    assert sales(group.pk, ids[0]) == b.pk
    assert Task.objects.filter(owner=a, customer_id=ids[0], progress__in=OPEN_PROGRESS).count() == 0
    assert AssignmentLog.objects.get(customer_id=ids[0], kind=AssignmentKind.TRANSFER).previous_salesperson_id == a.pk
    assert moves.unassign([ids[2]], group.pk, ctx) == [(ids[2], a.pk)]
    assert sales(group.pk, ids[2]) is None
    assert moves.unassign([ids[2]], group.pk, ctx) == []
    assert sorted(moves.leave_group(ids[3:5], group.pk, ctx)) == sorted(ids[3:5])
    assert not CustomerGroupMembership.objects.filter(customer_id__in=ids[3:5]).exists()
    assert AssignmentLog.objects.filter(customer_id=ids[3], kind=AssignmentKind.RETURN_COMPANY_SEA).count() == 1
    assert AssignmentLog.objects.filter(customer_id=ids[4], kind=AssignmentKind.RETURN_COMPANY_SEA).count() == 0


def test_recycle_bin_and_restore(world):
    group, a, b, ids = world
    ctx = moves.context(None)
    moves.join_group(ids[:2], group.pk, ctx)
    moves.assign([(ids[0], a.pk)], group.pk, ctx)
    assert sorted(moves.to_recycle_bin(ids[:3], ctx)) == sorted(ids[:3])
    assert moves.to_recycle_bin(ids[:3], ctx) == []
    assert Customer.objects.filter(in_recycle_bin=True).count() == 3
    assert not CustomerGroupMembership.objects.filter(customer_id__in=ids[:3]).exists()
    assert AssignmentLog.objects.filter(kind=AssignmentKind.RECYCLE_BIN).count() == 3  # one per customer
    assert moves.join_group(ids[:3], group.pk, ctx) == []  # the recycle bin is out of the seas
    assert sorted(moves.restore(ids[:3], ctx)) == sorted(ids[:3])
    assert Customer.objects.filter(in_recycle_bin=True).count() == 0
