"""Memberships, follow-up tasks, timeline entries and the assignment log carry no declared database foreign
keys (customers 0014, sales 0006, pools 0003): Django's on_delete still removes or clears the rows of a
deleted customer, group or user, on both databases."""

import pytest

from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership, TimelineEntry
from shoal.pools import moves
from shoal.sales.models import Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    seller, boss = make_user("k_seller"), make_user("k_boss")
    group = CustomerGroup.objects.create(name="键组")
    group.salespeople.add(seller)
    customers = Customer.objects.bulk_create([Customer(name=f"k{i}") for i in range(4)])
    ids = [c.pk for c in customers]
    ctx = moves.context(boss)
    moves.join_group(ids, group.pk, ctx)
    moves.assign([(pk, seller.pk) for pk in ids], group.pk, ctx)
    Task.objects.filter(customer_id__in=ids).update(creator=boss)
    return group, seller, boss, ids


def test_deleting_customers_removes_their_memberships_tasks_and_timeline(world):
    group, seller, boss, ids = world
    assert TimelineEntry.objects.filter(customer_id=ids[0]).exists()
    Customer.objects.filter(pk__in=ids[:2]).delete()
    for model in (CustomerGroupMembership, Task, TimelineEntry):
        assert not model.objects.filter(customer_id__in=ids[:2]).exists(), model
        assert model.objects.filter(customer_id__in=ids[2:]).exists(), model


def test_deleting_a_group_removes_its_memberships_and_clears_its_tasks(world):
    group, seller, boss, ids = world
    group.delete()
    assert not CustomerGroupMembership.objects.filter(customer_id__in=ids).exists()
    assert Task.objects.filter(customer_id__in=ids, group__isnull=True).count() == len(ids)


def test_deleting_users_removes_their_tasks_and_clears_the_rest(world):
    group, seller, boss, ids = world
    seller.delete()
    assert not Task.objects.filter(customer_id__in=ids).exists()  # the owner's tasks go with the owner
    assert CustomerGroupMembership.objects.filter(customer_id__in=ids, salesperson__isnull=True).count() == len(ids)
    successor = make_user("k_next")
    moves.assign([(pk, successor.pk) for pk in ids], group.pk, moves.context(boss))
    boss_id = boss.pk
    boss.delete()
    assert Task.objects.filter(customer_id__in=ids).count() == len(ids)
    assert not Task.objects.filter(creator_id=boss_id).exists()
    assert not TimelineEntry.objects.filter(actor_id=boss_id).exists()
    assert TimelineEntry.objects.filter(customer_id__in=ids, actor__isnull=True).exists()


def test_no_declared_keys_on_the_pool_rows():
    from django.db import connection

    with connection.cursor() as cursor:
        for model in (CustomerGroupMembership, Task, TimelineEntry):
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            assert not [name for name, c in constraints.items() if c["foreign_key"]], model
