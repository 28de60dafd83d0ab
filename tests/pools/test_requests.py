"""Request customers (领取任务): only with the group's setting on, no open follow-up task, the best public-sea
customers first, as many as the group says, within the day's requests, the capacity and the cooldowns."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.core.errors import ShoalError
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.quality import set_scores
from shoal.pools import moves
from shoal.pools.models import AssignmentKind, AssignmentLog, Cooldown
from shoal.pools.services.requests import customers_request
from shoal.sales.models import OPEN_PROGRESS, Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(roles):
    sp = make_user("req_sales", roles["salesperson"])
    outsider = make_user("req_out", roles["salesperson"])
    group = CustomerGroup.objects.create(name="电销组", request_tasks=True, request_times_per_day=2, request_size=3)
    group.salespeople.add(sp)
    customers = Customer.objects.bulk_create([Customer(name=f"c{i}") for i in range(10)])
    ids = [c.pk for c in customers]
    set_scores({pk: i for i, pk in enumerate(ids)})
    moves.join_group(ids, group.pk, moves.context(None))
    return {"sp": sp, "outsider": outsider, "group": group, "ids": ids}


def held(w):
    return set(CustomerGroupMembership.objects.filter(group=w["group"], salesperson=w["sp"])
               .values_list("customer_id", flat=True))


def finish_tasks(user):
    Task.objects.filter(owner=user).update(progress="done")


def refusal(**kwargs) -> ShoalError:
    with pytest.raises(ShoalError) as info:
        customers_request(**kwargs)
    return info.value


def test_a_request_gives_the_best_customers_and_a_task_each(w):
    out = customers_request(actor=w["sp"], group_id=w["group"].pk)
    assert out == {"assigned": 3, "requests_left": 1}
    assert held(w) == set(w["ids"][-3:])  # quality 9, 8, 7
    assert AssignmentLog.objects.filter(kind=AssignmentKind.REQUEST, salesperson=w["sp"]).count() == 3
    assert Task.objects.filter(owner=w["sp"], progress__in=OPEN_PROGRESS).count() == 3


def test_open_tasks_the_day_limit_capacity_and_cooldown(w):
    customers_request(actor=w["sp"], group_id=w["group"].pk)
    assert (refusal(actor=w["sp"], group_id=w["group"].pk).code, 409) == ("open_tasks", 409)
    finish_tasks(w["sp"])
    Cooldown.objects.create(customer_id=w["ids"][6], group=w["group"], user=w["sp"],
                            until=timezone.now() + timedelta(days=1))
    assert customers_request(actor=w["sp"], group_id=w["group"].pk)["assigned"] == 3
    assert w["ids"][6] not in held(w) and len(held(w)) == 6  # 5, 4, 3 after 9, 8, 7; 6 cools down
    finish_tasks(w["sp"])
    assert refusal(actor=w["sp"], group_id=w["group"].pk).code == "request_limit"
    CustomerGroup.objects.filter(pk=w["group"].pk).update(request_times_per_day=5, capacity=7)
    assert customers_request(actor=w["sp"], group_id=w["group"].pk)["assigned"] == 1  # room for one
    finish_tasks(w["sp"])
    assert refusal(actor=w["sp"], group_id=w["group"].pk).code == "capacity"


def test_only_the_groups_salespeople_and_only_when_the_group_allows(w):
    error = refusal(actor=w["outsider"], group_id=w["group"].pk)
    assert (error.code, error.status) == ("not_group_salesperson", 403)
    CustomerGroup.objects.filter(pk=w["group"].pk).update(request_tasks=False)
    error = refusal(actor=w["sp"], group_id=w["group"].pk)
    assert (error.code, error.status) == ("requests_off", 403)
    assert not held(w)
