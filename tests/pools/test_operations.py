"""Manual operations on customers: every action, each persona's reach, capacity, claim limits on local day
boundaries, cooldown, concurrent claims, transfers, follow-ups and the logs."""

import threading
from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from shoal.core.errors import NotFound, ShoalError
from shoal.core.models import OperationLog
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership, TimelineEntry
from shoal.pools.models import AssignmentKind, AssignmentLog, Cooldown, GroupLog, Transfer
from shoal.pools.services import operations as ops
from shoal.sales import services as sales
from shoal.sales.models import OPEN_PROGRESS, FollowUp, Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def w(personas, roles):
    s2 = make_user("p_sales2", roles["salesperson"])
    group = CustomerGroup.objects.create(name="华东组")
    group.salespeople.add(personas["salesperson"], s2)
    group.admins.add(personas["manager"])
    other = CustomerGroup.objects.create(name="华南组")
    other.salespeople.add(s2)
    ids = [c.pk for c in Customer.objects.bulk_create([Customer(name=f"c{i}") for i in range(8)])]
    return {**personas, "s2": s2, "group": group, "other": other, "ids": ids}


def where(group, pk):
    m = CustomerGroupMembership.objects.filter(group=group, customer_id=pk).first()
    return "none" if m is None else m.salesperson_id


def batch(actor, action, ids, group=None, salesperson=None):
    return ops.customers_batch(actor=actor, action=action, customer_ids=ids,
                               group_id=group.pk if group else None,
                               salesperson_id=salesperson.pk if salesperson else None)


# -- every action ----------------------------------------------------------------------------------------------
def test_group_assign_return_recycle_restore(w):
    admin, g, ids, sp = w["admin"], w["group"], w["ids"], w["salesperson"]
    out = batch(admin, "group", ids[:3], g)
    assert out["done"] == 3 and out["skipped"] == 0
    assert batch(admin, "group", ids[:3], g)["reasons"] == {"already_in_group": 3}
    # assign: ids[3] is not in the group yet and joins it first
    out = batch(admin, "assign", ids[:4], g, sp)
    assert out["done"] == 4 and out["joined"] == 1
    assert all(where(g, pk) == sp.pk for pk in ids[:4])
    assert Task.objects.filter(owner=sp, progress__in=OPEN_PROGRESS).count() == 4
    assert batch(admin, "assign", ids[:1], g, w["s2"])["reasons"] == {"assigned_to_another": 1}
    # back to the group public sea, then to the company public sea
    out = batch(admin, "return_to_group_sea", ids[:2], g)
    assert out["done"] == 2 and where(g, ids[0]) is None
    assert AssignmentLog.objects.filter(customer_id=ids[0], kind=AssignmentKind.RETURN_GROUP_SEA).count() == 1
    assert Task.objects.filter(owner=sp, customer_id=ids[0], progress__in=OPEN_PROGRESS).count() == 0
    assert batch(admin, "return_to_group_sea", ids[:2], g)["reasons"] == {"not_assigned": 2}
    out = batch(admin, "return_to_company_sea", ids[:3], g)
    assert out["done"] == 3 and where(g, ids[2]) == "none"
    assert GroupLog.objects.filter(customer_id=ids[2], from_group=g, to_group=None).count() == 1
    # recycle bin: out of every group; grouping and assigning leave it alone; restore brings it back
    batch(admin, "group", [ids[5]], w["other"])
    out = batch(admin, "recycle_bin", [ids[3], ids[5]])
    assert out["done"] == 2 and where(g, ids[3]) == "none" and where(w["other"], ids[5]) == "none"
    assert Customer.objects.get(pk=ids[3]).in_recycle_bin
    assert batch(admin, "group", [ids[3]], g)["reasons"] == {"in_recycle_bin": 1}
    assert batch(admin, "assign", [ids[3]], g, sp)["reasons"] == {"in_recycle_bin": 1}
    assert batch(admin, "recycle_bin", [ids[3]])["reasons"] == {"already_in_recycle_bin": 1}
    out = batch(admin, "restore", [ids[3], ids[4]])
    assert out["done"] == 1 and out["reasons"] == {"not_in_recycle_bin": 1}
    assert not Customer.objects.get(pk=ids[3]).in_recycle_bin
    # one operation-log entry per operation
    assert OperationLog.objects.filter(action="customers.batch.assign").count() == 3
    assert OperationLog.objects.filter(action="customers.batch.restore").count() == 1


def test_return_to_company_sea_without_group_leaves_every_group(w):
    admin, ids = w["admin"], w["ids"]
    batch(admin, "group", ids[:2], w["group"])
    batch(admin, "group", ids[:2], w["other"])
    batch(admin, "assign", ids[:1], w["other"], w["s2"])
    out = batch(admin, "return_to_company_sea", ids[:3])
    assert out["done"] == 2 and out["reasons"] == {"not_in_group": 1}
    assert not CustomerGroupMembership.objects.filter(customer_id__in=ids[:2]).exists()
    log = AssignmentLog.objects.get(customer_id=ids[0], kind=AssignmentKind.RETURN_COMPANY_SEA)
    assert log.previous_salesperson_id == w["s2"].pk and log.group_id == w["other"].pk


def test_bad_input_is_refused_with_reasons(w):
    admin, g, ids = w["admin"], w["group"], w["ids"]
    with pytest.raises(ShoalError) as e:
        batch(admin, "assign", ids[:1], g, w["admin"])  # not a salesperson of the group
    assert e.value.code == "not_group_salesperson" and e.value.status == 400
    for kwargs, status in [({"action": "fly"}, 400), ({"action": "group"}, 400),
                           ({"action": "group", "group_id": 10**9}, 404), ({"action": "assign", "group_id": g.pk}, 400),
                           ({"action": "group", "group_id": g.pk, "customer_ids": []}, 400),
                           ({"action": "group", "group_id": g.pk, "customer_ids": [10**12]}, 404)]:
        kwargs.setdefault("customer_ids", ids[:1])
        with pytest.raises(ShoalError) as e:
            ops.customers_batch(actor=admin, **kwargs)
        assert e.value.status == status, kwargs
    assert not CustomerGroupMembership.objects.exists()


# -- each persona's reach --------------------------------------------------------------------------------------
def test_personas_reach(w):
    admin, manager, sp, s2, g, ids = w["admin"], w["manager"], w["salesperson"], w["s2"], w["group"], w["ids"]
    batch(admin, "assign", ids[:2], g, sp)
    batch(admin, "assign", ids[2:4], g, s2)
    # no role: nothing at all
    with pytest.raises(ShoalError) as e:
        batch(w["norole"], "return_to_group_sea", ids[:1], g)
    assert e.value.status == 403
    # the salesperson: no assign, no recycle bin; returns their own; another's customer is out of scope (404,
    # nothing done even for their own in the same selection)
    for action in ("assign", "recycle_bin", "restore", "group"):
        with pytest.raises(ShoalError) as e:
            batch(sp, action, ids[:1], g, sp)
        assert e.value.status == 403, action
    with pytest.raises(ShoalError) as e:
        batch(sp, "return_to_group_sea", [ids[0], ids[2]], g)
    assert e.value.status == 404 and e.value.detail["customer_ids"] == [ids[2]]
    assert where(g, ids[0]) == sp.pk
    assert batch(sp, "return_to_group_sea", [ids[0]], g)["done"] == 1
    # the group's admin (manager): acts on the group's customers, company-public-sea customers are out of reach
    assert batch(manager, "assign", [ids[0]], g, s2)["done"] == 1
    assert batch(manager, "return_to_group_sea", [ids[2]], g)["done"] == 1
    with pytest.raises(ShoalError) as e:
        batch(manager, "group", [ids[6]], g)
    assert e.value.status == 404
    # a group admin without the permissions may still act on their group's customers
    plain = make_user("plain_admin")
    g.admins.add(plain)
    assert batch(plain, "return_to_group_sea", [ids[3]], g)["done"] == 1
    with pytest.raises(ShoalError) as e:
        batch(plain, "recycle_bin", [ids[3]])
    assert e.value.status == 403


def test_salesperson_may_return_only_in_groups_they_hold(w):
    admin, sp, s2, ids = w["admin"], w["salesperson"], w["s2"], w["ids"]
    w["other"].salespeople.add(sp)
    batch(admin, "assign", ids[:1], w["group"], sp)
    batch(admin, "assign", ids[:1], w["other"], s2)
    out = batch(sp, "return_to_group_sea", ids[:1])  # every group: only where sp holds it
    assert out["done"] == 1
    assert where(w["group"], ids[0]) is None and where(w["other"], ids[0]) == s2.pk


# -- capacity, cooldown, claims ---------------------------------------------------------------------------------
def test_assign_respects_capacity_and_cooldown(w):
    admin, g, sp, ids = w["admin"], w["group"], w["salesperson"], w["ids"]
    g.capacity = 3
    g.save()
    Cooldown.objects.create(customer_id=ids[0], group=g, user=sp, until=timezone.now() + timedelta(days=1))
    Cooldown.objects.create(customer_id=ids[1], group=g, user=sp, until=timezone.now() - timedelta(days=1))
    out = batch(admin, "assign", ids[:6], g, sp)
    assert out["done"] == 3 and out["reasons"] == {"cooldown": 1, "capacity": 2}
    assert out["skipped_ids"]["cooldown"] == [ids[0]]
    assert CustomerGroupMembership.objects.filter(group=g, salesperson=sp).count() == 3
    assert batch(admin, "assign", ids[6:7], g, sp)["reasons"] == {"capacity": 1}


def test_claim_from_the_group_public_sea(w):
    admin, g, sp, s2, ids = w["admin"], w["group"], w["salesperson"], w["s2"], w["ids"]
    batch(admin, "group", ids[:5], g)
    batch(admin, "assign", ids[4:5], g, s2)
    g.capacity = 2
    g.save()
    Cooldown.objects.create(customer_id=ids[0], group=g, user=sp, until=timezone.now() + timedelta(days=3))
    with pytest.raises(ShoalError) as e:  # another salesperson's customer: out of reach, nothing claimed
        batch(sp, "claim", ids[:5], g)
    assert e.value.status == 404 and e.value.detail["customer_ids"] == [ids[4]]
    out = batch(sp, "claim", ids[:4], g)
    assert out["done"] == 2 and out["reasons"] == {"cooldown": 1, "capacity": 1}
    assert AssignmentLog.objects.filter(salesperson=sp, kind=AssignmentKind.CLAIM).count() == 2
    # not in the group (company public sea): out of reach
    with pytest.raises(ShoalError) as e:
        batch(sp, "claim", [ids[6]], g)
    assert e.value.status == 404
    # only the group's salespeople claim; a hidden public sea cannot be claimed from
    with pytest.raises(ShoalError) as e:
        batch(w["manager"], "claim", ids[3:4], g)
    assert e.value.status == 403 and e.value.code == "not_group_salesperson"
    g.public_sea_visible = False
    g.save()
    with pytest.raises(ShoalError) as e:
        batch(sp, "claim", ids[3:4], g)
    assert e.value.status == 403


def test_daily_claim_limit_counts_the_local_day(w):
    g, sp, ids = w["group"], w["salesperson"], w["ids"]
    ops.customers_batch(actor=w["admin"], action="group", customer_ids=ids, group_id=g.pk)
    g.daily_claim_limit = 2
    g.save()
    now = datetime(2024, 5, 2, 0, 10, tzinfo=SHANGHAI)  # 2024-05-01 16:10 UTC
    # 23:50 the local day before (the same UTC day): not today's; 00:05 today: today's
    AssignmentLog.objects.create(customer_id=ids[7], group=g, salesperson=sp, kind=AssignmentKind.CLAIM,
                                 at=datetime(2024, 5, 1, 23, 50, tzinfo=SHANGHAI))
    AssignmentLog.objects.create(customer_id=ids[6], group=g, salesperson=sp, kind=AssignmentKind.CLAIM,
                                 at=datetime(2024, 5, 2, 0, 5, tzinfo=SHANGHAI))
    with mock.patch("django.utils.timezone.now", return_value=now):
        out = batch(sp, "claim", ids[:3], g)
    assert out["done"] == 1 and out["reasons"] == {"daily_claim_limit": 2}
    with mock.patch("django.utils.timezone.now", return_value=now + timedelta(minutes=5)):
        assert batch(sp, "claim", ids[1:3], g)["reasons"] == {"daily_claim_limit": 2}
    with mock.patch("django.utils.timezone.now", return_value=datetime(2024, 5, 3, 0, 0, 1, tzinfo=SHANGHAI)):
        assert batch(sp, "claim", ids[1:4], g)["done"] == 2  # a new local day


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_claims_one_wins(personas, roles):
    if connection.vendor != "postgresql":
        pytest.skip("two connections at once: PostgreSQL")
    sp, s2 = personas["salesperson"], make_user("p_sales2", roles["salesperson"])
    g = CustomerGroup.objects.create(name="race")
    g.salespeople.add(sp, s2)
    ids = [c.pk for c in Customer.objects.bulk_create([Customer(name=f"r{i}") for i in range(20)])]
    ops.customers_batch(actor=personas["admin"], action="group", customer_ids=ids, group_id=g.pk)
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def claim(user):
        try:
            barrier.wait()
            results[user.pk] = ops.customers_batch(actor=user, action="claim", customer_ids=ids, group_id=g.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(u,)) for u in (sp, s2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the loser either finds the customers still in the sea and claims none of them (done 0), or checks its reach
    # after the winner committed: they are then in another's private sea, outside its scope (404, nothing done)
    assert len(errors) + len(results) == 2 and all(isinstance(e, NotFound) for e in errors)
    assert sum(r["done"] for r in results.values()) == 20
    assert AssignmentLog.objects.filter(kind=AssignmentKind.CLAIM).count() == 20
    assert CustomerGroupMembership.objects.filter(group=g, salesperson__isnull=False).count() == 20
    assert Task.objects.count() == 20


# -- transfers --------------------------------------------------------------------------------------------------
def test_transfer_all_and_chosen(w):
    admin, g, other, sp, s2, ids = w["admin"], w["group"], w["other"], w["salesperson"], w["s2"], w["ids"]
    third = make_user("p_sales3")
    g.salespeople.add(third)
    other.salespeople.add(sp)
    batch(admin, "assign", ids[:3], g, sp)
    batch(admin, "assign", ids[3:4], other, sp)  # third is not a salesperson of "other"
    with pytest.raises(ShoalError) as e:
        ops.transfer_create(actor=admin, from_user_id=sp.pk, to_user_id=third.pk, reason="  ")
    assert e.value.code == "invalid"
    out = ops.transfer_create(actor=admin, from_user_id=sp.pk, to_user_id=third.pk, customer_ids=[ids[0], ids[5]],
                              reason="调岗")
    assert out["done"] == 1 and out["reasons"] == {"not_held": 1}
    assert where(g, ids[0]) == third.pk
    out = ops.transfer_create(actor=admin, from_user_id=sp.pk, to_user_id=third.pk, reason="离职")
    assert out["done"] == 2 and out["reasons"] == {"not_group_salesperson": 1}
    assert where(other, ids[3]) == sp.pk
    records = list(Transfer.objects.order_by("id").values_list("customer_count", "all_customers", "reason"))
    assert records == [(1, False, "调岗"), (2, True, "离职")]
    log = AssignmentLog.objects.filter(kind=AssignmentKind.TRANSFER, customer_id=ids[1]).get()
    assert (log.previous_salesperson_id, log.salesperson_id, log.operator_id) == (sp.pk, third.pk, admin.pk)
    assert Task.objects.filter(owner=third, customer_id=ids[1], progress__in=OPEN_PROGRESS).exists()
    # permission: the salesperson may not transfer; the list
    with pytest.raises(ShoalError) as e:
        ops.transfer_create(actor=sp, from_user_id=sp.pk, to_user_id=s2.pk, reason="x")
    assert e.value.status == 403
    assert ops.transfer_list(actor=admin).count() == 2
    assert OperationLog.objects.filter(action="transfer.create").count() == 2


# -- follow-ups ---------------------------------------------------------------------------------------------------
def test_follow_up_closes_the_task_and_updates_times(w):
    admin, g, sp, s2, ids = w["admin"], w["group"], w["salesperson"], w["s2"], w["ids"]
    batch(admin, "assign", ids[:1], g, sp)
    batch(admin, "assign", ids[:1], w["other"], s2)
    with pytest.raises(ShoalError) as e:  # not the salesperson's customer
        sales.follow_up_create(actor=sp, customer_id=ids[1], method="phone", status="reached", effective=True,
                               summary="x")
    assert e.value.status == 404
    f = sales.follow_up_create(actor=sp, customer_id=ids[0], method="wechat", status="interested", effective=False,
                               summary="聊了产品")
    m = CustomerGroupMembership.objects.get(group=g, customer_id=ids[0])
    assert m.last_follow_up_at == f.created_at and m.last_effective_follow_up_at is None
    assert CustomerGroupMembership.objects.get(group=w["other"], customer_id=ids[0]).last_follow_up_at is None
    assert not Task.objects.filter(owner=sp, progress__in=OPEN_PROGRESS).exists()
    assert Task.objects.filter(owner=s2, customer_id=ids[0], progress__in=OPEN_PROGRESS).exists()
    sales.follow_up_create(actor=sp, customer_id=ids[0], method="phone", status="deal", effective=True, summary="")
    c = Customer.objects.get(pk=ids[0])
    assert c.follow_up_count == 2 and c.last_follow_up_at is not None
    assert CustomerGroupMembership.objects.get(group=g, customer_id=ids[0]).last_effective_follow_up_at is not None
    assert TimelineEntry.objects.filter(customer_id=ids[0], kind="follow_up").count() == 2
    assert sales.follow_up_list(actor=sp, customer_id=ids[0]).count() == 2
    assert sales.follow_up_list(actor=sp, customer_id=ids[1]).count() == 0
    assert sales.task_list(actor=s2).count() == 1 and sales.task_list(actor=sp, status="done").count() == 1
    with pytest.raises(ShoalError):
        sales.follow_up_create(actor=sp, customer_id=ids[0], method="pigeon", status="reached", effective=False,
                               summary="")
    with pytest.raises(ShoalError) as e:
        sales.follow_up_create(actor=w["norole"], customer_id=ids[0], method="phone", status="reached",
                               effective=False, summary="")
    assert e.value.status == 403
    assert FollowUp.objects.count() == 2


# -- logs ----------------------------------------------------------------------------------------------------------
def test_logs_are_scoped_and_filtered(w):
    admin, manager, g, sp, ids = w["admin"], w["manager"], w["group"], w["salesperson"], w["ids"]
    batch(admin, "assign", ids[:2], g, sp)
    batch(admin, "group", ids[2:3], w["other"])
    assert ops.group_log_list(actor=admin).count() == 3
    assert ops.group_log_list(actor=manager).count() == 2  # the other group's customer is not theirs
    assert ops.group_log_list(actor=admin, group_id=w["other"].pk).count() == 1
    assert ops.group_log_list(actor=admin, kind="auto").count() == 0
    assert ops.assignment_log_list(actor=admin, kind="assign", salesperson_id=sp.pk).count() == 2
    assert ops.assignment_log_list(actor=admin, customer_id=ids[0]).count() == 1
    yesterday = timezone.localdate() - timedelta(days=1)
    assert ops.assignment_log_list(actor=admin, date_from=yesterday, date_to=yesterday).count() == 0
    assert ops.assignment_log_list(actor=admin, date_from=yesterday).count() == 2
    assert ops.recycle_log_list(actor=admin).count() == 0
    with pytest.raises(ShoalError) as e:
        ops.group_log_list(actor=sp)
    assert e.value.status == 403
    with pytest.raises(ShoalError):
        ops.assignment_log_list(actor=admin, kind="nope")
