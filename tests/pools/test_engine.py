"""The rule runs: grouping, assignment (fairness, ties, MGM, capacity, cooldown, rule order, races),
recycling on day boundaries, exempt types, warnings, logs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.quality import set_scores, with_quality
from shoal.pools import moves
from shoal.pools.engine import run_assignment, run_group_rules, run_recycle, run_warnings
from shoal.pools.models import (
    AssignmentKind,
    AssignmentLog,
    AssignmentRule,
    Cooldown,
    GroupLog,
    GroupRule,
    RecycleKind,
    RecycleRecord,
    RecycleRule,
    RecycleTarget,
)
from shoal.sales.models import Notification, Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

CITY = lambda city: {"field": "city", "op": "eq", "value": city}  # noqa: E731


def customers(n, **kw):
    return [c.pk for c in Customer.objects.bulk_create([Customer(name=f"c{i}", **kw) for i in range(n)])]


def in_sea(group, ids):
    moves.join_group(ids, group.pk, moves.context(None))


def owners(group):
    return dict(CustomerGroupMembership.objects.filter(group=group).values_list("customer_id", "salesperson_id"))


@pytest.fixture
def team():
    people = [make_user(f"eng_s{i}") for i in range(4)]
    group = CustomerGroup.objects.create(name="华东组")
    group.salespeople.add(*people)
    return group, people


# -- group rules ------------------------------------------------------------------------------------------
def test_group_rule_from_company_sea_and_skip_present(team):
    group, _ = team
    sh = customers(5, city="上海")
    bj = customers(3, city="北京")
    binned = customers(1, city="上海", in_recycle_bin=True)
    GroupRule.objects.create(name="sh", order=1, query=CITY("上海"), target_group=group)
    assert run_group_rules()["grouped"] == 5
    assert set(owners(group)) == set(sh)
    assert not CustomerGroupMembership.objects.filter(customer_id__in=bj + binned).exists()
    assert GroupLog.objects.filter(to_group=group, auto=True, from_group=None).count() == 5
    assert run_group_rules()["grouped"] == 0  # already in the target: skipped


def test_group_rule_break_and_no_break(team):
    group, people = team
    other = CustomerGroup.objects.create(name="华南组")
    third = CustomerGroup.objects.create(name="华北组")
    ids = customers(4, city="上海")
    in_sea(group, ids)
    moves.assign([(ids[0], people[0].pk)], group.pk, moves.context(None))
    GroupRule.objects.create(name="add", order=1, query=CITY("上海"), source_group=group, target_group=other)
    assert run_group_rules()["grouped"] == 4
    assert CustomerGroupMembership.objects.filter(group=group).count() == 4  # no break: still in the source
    assert owners(group)[ids[0]] == people[0].pk
    GroupRule.objects.all().delete()
    GroupRule.objects.create(name="move", order=1, query=CITY("上海"), source_group=group, target_group=third,
                             break_relations=True)
    assert run_group_rules(group_id=third.pk)["grouped"] == 4
    assert not CustomerGroupMembership.objects.filter(group=group).exists()  # left, with the assignment
    assert set(owners(third)) == set(ids) and set(owners(other)) == set(ids)
    assert AssignmentLog.objects.filter(customer_id=ids[0], group=group,
                                        previous_salesperson=people[0]).exists()
    # a move is one group-log entry, from the source to the target
    assert list(GroupLog.objects.filter(customer_id=ids[1], to_group=third).values_list("from_group_id", flat=True)) \
        == [group.pk]
    assert GroupLog.objects.filter(customer_id=ids[1], from_group=group).count() == 2  # to 华南组 (add), to 华北组
    GroupRule.objects.all().delete()
    GroupRule.objects.create(name="out", order=1, query=CITY("上海"), source_group=third, target_group=None)
    assert run_group_rules()["grouped"] == 4
    assert not CustomerGroupMembership.objects.filter(group=third).exists()


def test_group_rules_run_in_order(team):
    group, _ = team
    other = CustomerGroup.objects.create(name="华南组")
    ids = customers(3, city="上海")
    GroupRule.objects.create(name="second", order=2, query=CITY("上海"), target_group=other)
    GroupRule.objects.create(name="first", order=1, query=CITY("上海"), target_group=group)
    run_group_rules()
    assert set(owners(group)) == set(ids)
    assert not CustomerGroupMembership.objects.filter(group=other).exists()  # no longer in the company sea


# -- assignment -------------------------------------------------------------------------------------------
def test_fair_by_count_and_quality(team):
    group, people = team
    ids = customers(103)
    set_scores({pk: (i * 37) % 100 for i, pk in enumerate(ids)})
    in_sea(group, ids)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    result = run_assignment()
    assert result["assigned"] == 103
    got = owners(group)
    counts = [list(got.values()).count(p.pk) for p in people]
    assert max(counts) - min(counts) <= 1
    scores = dict(with_quality(Customer.objects).values_list("pk", "quality_score"))
    sums = [sum(scores[c] for c, u in got.items() if u == p.pk) for p in people]
    assert max(sums) / min(sums) <= 1.05
    # logs complete: one assignment-log entry and one open task per customer
    assert AssignmentLog.objects.filter(kind=AssignmentKind.ASSIGN, auto=True, group=group).count() == 103
    assert Task.objects.filter(group=group).count() == 103
    assert run_assignment()["assigned"] == 0  # idempotent


def test_tie_order_lowest_id_first(team):
    group, people = team
    ids = customers(6)
    set_scores(dict.fromkeys(ids, 5))
    in_sea(group, ids)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    run_assignment()
    got = owners(group)
    ordered = sorted(people, key=lambda p: p.pk)
    # equal scores: customers by id, each to the salesperson with fewest, then lowest sum, then lowest id
    assert [got[pk] for pk in ids[:4]] == [p.pk for p in ordered]
    assert [got[pk] for pk in ids[4:]] == [ordered[0].pk, ordered[1].pk]


def test_descending_quality_first(team):
    group, people = team
    group.salespeople.set(people[:2])
    a, b = sorted(people[:2], key=lambda p: p.pk)
    ids = customers(4)
    set_scores(dict(zip(ids, (1, 10, 5, 8), strict=True)))
    in_sea(group, ids)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    run_assignment()
    got = owners(group)
    # 10 → a, 8 → b, 5 → b (same count, lower sum), 1 → a
    assert (got[ids[1]], got[ids[3]], got[ids[2]], got[ids[0]]) == (a.pk, b.pk, b.pk, a.pk)


def test_mgm_goes_to_the_inviters_salesperson(team):
    group, people = team
    inviter = customers(1)[0]
    in_sea(group, [inviter])
    last = max(people, key=lambda p: p.pk)
    moves.assign([(inviter, last.pk)], group.pk, moves.context(None))
    invited = [c.pk for c in Customer.objects.bulk_create(
        [Customer(name=f"inv{i}", invited_by_id=inviter) for i in range(3)])]
    set_scores(dict.fromkeys(invited, 50))
    in_sea(group, invited + customers(2))
    AssignmentRule.objects.create(group=group, name="all", order=1)
    run_assignment()
    got = owners(group)
    assert all(got[pk] == last.pk for pk in invited)


def test_capacity_and_chosen_salespeople(team):
    group, people = team
    group.capacity = 2
    group.save()
    ids = customers(20)
    in_sea(group, ids)
    rule = AssignmentRule.objects.create(group=group, name="two", order=1)
    rule.salespeople.set(people[:2])
    moves.assign([(ids[0], people[0].pk)], group.pk, moves.context(None))
    assert run_assignment()["assigned"] == 3  # people[0] had one: one more; people[1]: two
    got = owners(group)
    assert list(got.values()).count(people[0].pk) == 2 and list(got.values()).count(people[1].pk) == 2
    assert sum(1 for v in got.values() if v is None) == 16  # stay in the group public sea


def test_inactive_and_non_member_salespeople_are_not_eligible(team):
    group, people = team
    people[0].is_active = False
    people[0].save()
    outsider = make_user("eng_outsider")
    rule = AssignmentRule.objects.create(group=group, name="r", order=1)
    rule.salespeople.set([people[0], people[1], outsider])
    ids = customers(4)
    in_sea(group, ids)
    run_assignment()
    assert set(owners(group).values()) == {people[1].pk}


def test_cooldown_keeps_the_previous_owner_out(team):
    group, people = team
    group.salespeople.set(people[:2])
    ids = customers(4)
    in_sea(group, ids)
    now = timezone.now()
    Cooldown.objects.bulk_create([Cooldown(customer_id=pk, group=group, user=people[0], until=now + timedelta(days=1))
                                  for pk in ids[:3]])
    Cooldown.objects.create(customer_id=ids[3], group=group, user=people[1], until=now - timedelta(seconds=1))
    AssignmentRule.objects.create(group=group, name="all", order=1)
    run_assignment(now=now)
    got = owners(group)
    assert all(got[pk] == people[1].pk for pk in ids[:3])
    assert got[ids[3]] == people[0].pk  # people[1]'s cooldown is over, but people[0] has fewer


def test_rules_in_order_first_rule_takes_first(team):
    group, people = team
    sh = customers(4, city="上海")
    rest = customers(4, city="北京")
    in_sea(group, sh + rest)
    second = AssignmentRule.objects.create(group=group, name="all", order=2)
    second.salespeople.set(people[2:])
    first = AssignmentRule.objects.create(group=group, name="sh", order=1, query=CITY("上海"))
    first.salespeople.set(people[:2])
    assert run_assignment()["assigned"] == 8
    got = owners(group)
    assert {got[pk] for pk in sh} == {people[0].pk, people[1].pk}
    assert {got[pk] for pk in rest} == {people[2].pk, people[3].pk}
    assert AssignmentLog.objects.filter(customer_id=sh[0]).get().rule_id == first.pk


def test_disabled_rule_and_recycle_bin(team):
    group, _ = team
    ids = customers(3)
    in_sea(group, ids)
    Customer.objects.filter(pk=ids[0]).update(in_recycle_bin=True)
    rule = AssignmentRule.objects.create(group=group, name="r", order=1, enabled=False)
    assert run_assignment()["assigned"] == 0
    rule.enabled = True
    rule.save()
    assert run_assignment(group_id=group.pk)["assigned"] == 2


@pytest.mark.django_db(transaction=True)
def test_two_assignment_runs_at_once_assign_each_customer_once(team):
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once: PostgreSQL")
    import threading

    from django.db import connections

    group, people = team
    ids = customers(400)
    in_sea(group, ids)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(run_assignment()["assigned"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 400]
    assert AssignmentLog.objects.filter(kind=AssignmentKind.ASSIGN).count() == 400
    assert Task.objects.count() == 400
    assert CustomerGroupMembership.objects.filter(group=group, salesperson__isnull=True).count() == 0


# -- recycling --------------------------------------------------------------------------------------------
@pytest.fixture
def assigned(team):
    group, people = team
    ids = customers(4)
    in_sea(group, ids)
    t0 = timezone.now().replace(microsecond=0) - timedelta(days=30)
    moves.assign([(pk, people[0].pk) for pk in ids], group.pk, moves.context(None, now=t0))
    return group, people, ids, t0


@pytest.mark.parametrize("kind", [RecycleKind.NO_FOLLOW_UP, RecycleKind.NO_EFFECTIVE_FOLLOW_UP])
def test_recycle_on_the_day_boundary(assigned, kind):
    group, people, ids, t0 = assigned
    RecycleRule.objects.create(group=group, name="7d", order=1, kind=kind, days=7, cooldown_days=3)
    exactly = t0 + timedelta(days=7)
    assert run_recycle(now=exactly - timedelta(seconds=1))["recycled"] == 0
    assert run_recycle(now=exactly)["recycled"] == 0  # exactly N days: still within them
    assert run_recycle(now=exactly + timedelta(seconds=1))["recycled"] == 4
    assert all(v is None for v in owners(group).values())
    assert RecycleRecord.objects.filter(group=group, salesperson=people[0], target=RecycleTarget.GROUP_SEA).count() == 4
    assert AssignmentLog.objects.filter(kind=AssignmentKind.RECYCLE, previous_salesperson=people[0]).count() == 4
    until = exactly + timedelta(seconds=1) + timedelta(days=3)
    assert set(Cooldown.objects.filter(user=people[0], group=group).values_list("until", flat=True)) == {until}


def test_follow_up_restarts_the_clock_and_effective_kind(assigned):
    group, people, ids, t0 = assigned
    CustomerGroupMembership.objects.filter(customer_id=ids[0], group=group).update(
        last_follow_up_at=t0 + timedelta(days=5))
    CustomerGroupMembership.objects.filter(customer_id=ids[1], group=group).update(
        last_follow_up_at=t0 + timedelta(days=5), last_effective_follow_up_at=t0 + timedelta(days=5))
    RecycleRule.objects.create(group=group, name="no eff", order=1, kind=RecycleKind.NO_EFFECTIVE_FOLLOW_UP, days=7)
    now = t0 + timedelta(days=8)
    assert run_recycle(now=now)["recycled"] == 3  # ids[0] had a follow-up, not an effective one
    assert owners(group)[ids[1]] == people[0].pk


def test_exempt_types_condition_and_company_sea(assigned):
    group, people, ids, t0 = assigned
    Customer.objects.filter(pk=ids[0]).update(customer_type="closed")
    Customer.objects.filter(pk__in=ids[:3]).update(city="上海")
    RecycleRule.objects.create(group=group, name="r", order=1, days=7, exempt_types=["closed"], query=CITY("上海"),
                               target=RecycleTarget.COMPANY_SEA)
    assert run_recycle(now=t0 + timedelta(days=8))["recycled"] == 2
    assert set(owners(group)) == {ids[0], ids[3]}
    assert RecycleRecord.objects.filter(target=RecycleTarget.COMPANY_SEA).count() == 2
    assert not Cooldown.objects.exists()


def test_cooldown_upsert_keeps_one_row(assigned):
    group, people, ids, t0 = assigned
    RecycleRule.objects.create(group=group, name="r", order=1, days=7, cooldown_days=2)
    now = t0 + timedelta(days=8)
    run_recycle(now=now)
    moves.assign([(pk, people[0].pk) for pk in ids], group.pk, moves.context(None, now=now))  # by hand
    later = now + timedelta(days=8)
    assert run_recycle(now=later)["recycled"] == 4
    assert Cooldown.objects.count() == 4
    assert set(Cooldown.objects.values_list("until", flat=True)) == {later + timedelta(days=2)}


def test_warnings_once_per_salesperson(assigned):
    group, people, ids, t0 = assigned
    other = customers(2)
    in_sea(group, other)
    moves.assign([(pk, people[1].pk) for pk in other], group.pk, moves.context(None, now=t0))
    RecycleRule.objects.create(group=group, name="r", order=1, days=7, warn_days=2)
    too_early = t0 + timedelta(days=5) - timedelta(seconds=1)
    assert run_warnings(now=too_early)["warned"] == 0
    result = run_warnings(now=t0 + timedelta(days=5, seconds=1))
    assert (result["warned"], result["notified"]) == (6, 2)
    assert Notification.objects.filter(user=people[0], kind="recycle_warning").count() == 1
    assert "4" in Notification.objects.get(user=people[0]).title
    assert run_warnings(now=t0 + timedelta(days=6))["warned"] == 0  # idempotent
    assert Notification.objects.count() == 2
    assert CustomerGroupMembership.objects.filter(warned_at__isnull=True, salesperson__isnull=False).count() == 0


def test_assignment_then_recycle_then_reassign_skips_cooled(assigned):
    group, people, ids, t0 = assigned
    group.salespeople.set(people[:2])
    RecycleRule.objects.create(group=group, name="r", order=1, days=7, cooldown_days=30)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    now = t0 + timedelta(days=8)
    run_recycle(now=now)
    assert run_assignment(now=now)["assigned"] == 4
    assert set(owners(group).values()) == {people[1].pk}


# -- the command and the jobs --------------------------------------------------------------------------------
def test_cli_prints_one_json_line(team):
    import json
    from io import StringIO

    from django.core.management import call_command

    group, _ = team
    ids = customers(3)
    in_sea(group, ids)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    out, err = StringIO(), StringIO()
    call_command("pools", "run", "assign", "--group", str(group.pk), stdout=out, stderr=err)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["assigned"] == 3 and "seconds" in result
    assert "pools assign" in err.getvalue()


def test_jobs_are_registered():
    from shoal.schedules.registry import JOBS

    assert {"pools.group", "pools.assign", "pools.recycle", "pools.warn"} <= set(JOBS)
    assert JOBS["pools.recycle"].cron == "0 2 * * *" and JOBS["pools.warn"].cron == "0 9 * * *"
    assert JOBS["pools.assign"].func()["assigned"] == 0
