"""Assignment notices: a salesperson given customers by a rule run, a batch operation or a transfer gets ONE
notification per run or operation, with the count; nobody is told of what they took themselves."""

import pytest
from django.urls import reverse

from shoal.customers.models import Customer, CustomerGroup
from shoal.pools import moves
from shoal.pools.engine import run_assignment
from shoal.pools.models import AssignmentRule
from shoal.pools.services.operations import customers_batch, transfer_create
from shoal.sales.models import Notification
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def customers(n, **kw):
    return [c.pk for c in Customer.objects.bulk_create([Customer(name=f"c{i}", **kw) for i in range(n)])]


@pytest.fixture
def team(personas):
    sellers = [make_user(f"an_s{i}", personas["salesperson"].roles.first()) for i in range(2)]
    north, south = CustomerGroup.objects.create(name="华北组"), CustomerGroup.objects.create(name="华南组")
    for group in (north, south):
        group.salespeople.add(*sellers)
    return {"north": north, "south": south, "sellers": sellers, **personas}


def notices(user):
    return list(Notification.objects.filter(user=user, kind="assignment"))


def test_a_manual_assignment_sends_one_notice_with_the_count(team):
    seller = team["sellers"][0]
    ids = customers(3)
    out = customers_batch(actor=team["admin"], action="assign", customer_ids=ids, group_id=team["north"].pk,
                          salesperson_id=seller.pk)
    assert out["done"] == 3
    [note] = notices(seller)
    assert "3" in note.title and note.link == reverse("admin:pools_my_customers")
    assert notices(team["sellers"][1]) == [] and notices(team["admin"]) == []


def test_a_rule_run_over_two_groups_sends_one_notice_per_salesperson(team):
    north, south = team["north"], team["south"]
    for group in (north, south):
        ids = customers(4, city="上海")
        moves.join_group(ids, group.pk, moves.context(None))
        AssignmentRule.objects.create(group=group, name="r", order=1,
                                      query={"field": "city", "op": "eq", "value": "上海"})
    assert run_assignment()["assigned"] == 8
    for seller in team["sellers"]:
        [note] = notices(seller)
        assert "4" in note.title  # 2 in each group
    assert run_assignment()["assigned"] == 0
    assert Notification.objects.filter(kind="assignment").count() == 2  # nothing new, no new notice


def test_a_claim_tells_nobody_and_a_transfer_tells_the_receiver_once(team):
    north = team["north"]
    north.public_sea_visible = True
    north.save()
    a, b = team["sellers"]
    ids = customers(3)
    moves.join_group(ids, north.pk, moves.context(None))
    out = customers_batch(actor=a, action="claim", customer_ids=ids, group_id=north.pk)
    assert out["done"] == 3 and notices(a) == []
    transfer_create(actor=team["admin"], from_user_id=a.pk, to_user_id=b.pk, customer_ids=ids[:2], reason="离职")
    [note] = notices(b)
    assert "2" in note.title and notices(a) == []


def test_moves_outside_an_operation_notify_nobody(team):
    ids = customers(2)
    moves.join_group(ids, team["north"].pk, moves.context(None))
    moves.assign([(pk, team["sellers"][0].pk) for pk in ids], team["north"].pk, moves.context(None))
    assert not Notification.objects.exists()
