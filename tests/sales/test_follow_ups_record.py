"""Recording a follow-up (跟进记录) with maturity, invitation type and call duration: it completes the caller's open
follow-up task of the customer and, with a next time, opens the next one; the enums are validated; the data
scope holds (404 outside it); requesting new tasks follows the group's settings (429 at the day's limit)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.core.errors import ShoalError
from shoal.core.models import OperationLog
from shoal.customers.models import CustomerGroup, CustomerGroupMembership, EnumItem, TimelineEntry
from shoal.sales.models import OPEN_PROGRESS, FollowUp, Task, TaskPriority, TaskProgress, TaskType
from shoal.sales.services.follow_ups import (
    call_duration_text,
    follow_up_create,
    follow_up_labels,
    follow_up_options,
    follow_up_rows,
    follow_up_tasks_request,
    parse_call_duration,
    workspace_tasks,
)
from tests.sales.workspace_world import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build()


def refusal(fn, **kwargs) -> ShoalError:
    with pytest.raises(ShoalError) as info:
        fn(**kwargs)
    return info.value


def test_the_migration_seeds_both_enums_with_translatable_labels():
    from django.utils import translation

    options = follow_up_options()
    assert [c for c, _ in options["maturity"]] == ["potential", "interested", "key_account", "deal"]
    assert [c for c, _ in options["invitation_type"]] == ["self_registered", "friend_referral",
                                                          "sales_invitation", "event"]
    with translation.override("zh-hans"):
        zh = follow_up_options()
    assert dict(zh["maturity"])["key_account"] == "大客户"
    assert dict(zh["invitation_type"])["friend_referral"] == "朋友推荐"
    with translation.override("en"):
        assert dict(follow_up_options()["maturity"])["potential"] == "Potential customer"


def test_recording_completes_the_task_and_opens_the_next_one(w):
    sales, zhang = w["sales"], w["mine"][0]
    task = w["tasks"]["张三"]
    nxt = timezone.now() + timedelta(days=3)
    follow_up = follow_up_create(actor=sales, customer_id=zhang.pk, method="wechat", status="interested",
                                 effective=True, summary="约了下周面谈", next_follow_up_at=nxt,
                                 maturity="interested", invitation_type="friend_referral", call_seconds=185)
    assert (follow_up.maturity, follow_up.invitation_type, follow_up.call_seconds) == ("interested",
                                                                                        "friend_referral", 185)
    task.refresh_from_db()
    assert task.progress == TaskProgress.DONE and task.done_at is not None
    new = Task.objects.get(owner=sales, customer=zhang, progress__in=OPEN_PROGRESS)
    assert follow_up.next_task.pk == new.pk
    assert (new.type, new.group_id, new.due_at, new.remind_at, new.reminded_at) == (
        TaskType.FOLLOW_UP, w["group"].pk, nxt, nxt, None)
    assert new.priority == TaskPriority.URGENT  # the completed task's priority carries over
    assert new.creator_id == sales.pk
    zhang.refresh_from_db()
    assert zhang.follow_up_count == 1 and zhang.last_follow_up_at == follow_up.created_at
    membership = CustomerGroupMembership.objects.get(customer=zhang, group=w["group"])
    assert membership.last_effective_follow_up_at == follow_up.created_at
    entry = TimelineEntry.objects.get(customer=zhang, kind="follow_up")
    assert entry.detail["maturity"] == "interested" and entry.detail["call_seconds"] == 185
    log = OperationLog.objects.get(action="follow_up.create", object_id=str(zhang.pk))
    assert log.detail["next_task_id"] == new.pk


def test_without_a_next_time_no_task_is_opened(w):
    follow_up = follow_up_create(actor=w["sales"], customer_id=w["mine"][1].pk, summary="不需要了")
    assert follow_up.next_task is None
    assert not Task.objects.filter(owner=w["sales"], customer=w["mine"][1], progress__in=OPEN_PROGRESS).exists()
    assert workspace_tasks(actor=w["sales"]).count() == 2


def test_a_next_time_without_an_open_task_takes_the_group_of_the_customer(w):
    li = w["mine"][1]
    Task.objects.filter(customer=li).update(progress=TaskProgress.DONE)
    nxt = timezone.now() + timedelta(hours=2)
    follow_up = follow_up_create(actor=w["sales"], customer_id=li.pk, next_follow_up_at=nxt)
    assert (follow_up.next_task.group_id, follow_up.next_task.priority) == (w["group"].pk, TaskPriority.MEDIUM)


def test_another_salespersons_task_of_the_customer_stays_open(w):
    zhang = w["mine"][0]
    theirs = Task.objects.create(type=TaskType.FOLLOW_UP, owner=w["other"], customer=zhang, group=w["group"])
    follow_up_create(actor=w["sales"], customer_id=zhang.pk)
    theirs.refresh_from_db()
    assert theirs.progress == TaskProgress.NOT_STARTED


@pytest.mark.parametrize("field, value", [("maturity", "ripe"), ("invitation_type", "carrier pigeon"),
                                          ("maturity", "self_registered")])  # an item of the other enum
def test_unknown_enum_codes_are_refused_naming_the_field(w, field, value):
    error = refusal(follow_up_create, actor=w["sales"], customer_id=w["mine"][0].pk, **{field: value})
    assert (error.status, error.code, error.detail["field"]) == (400, "invalid", field)
    assert not FollowUp.objects.exists()
    assert w["tasks"]["张三"].progress == TaskProgress.NOT_STARTED


def test_a_disabled_item_is_refused_but_old_records_keep_its_label(w):
    follow_up = follow_up_create(actor=w["sales"], customer_id=w["mine"][0].pk, maturity="deal")
    EnumItem.objects.filter(group__code="follow_up_maturity", code="deal").update(enabled=False)
    error = refusal(follow_up_create, actor=w["sales"], customer_id=w["mine"][1].pk, maturity="deal")
    assert error.detail["field"] == "maturity"
    assert "deal" not in dict(follow_up_options()["maturity"])
    assert follow_up_rows([follow_up])[0]["maturity_label"] == "成交客户"  # zh-hans, the default language
    assert follow_up_labels()["maturity"]["deal"] == "成交客户"


@pytest.mark.parametrize("value", [-1, 24 * 3600 + 1, True, "60"])
def test_call_seconds_out_of_range_are_refused(w, value):
    error = refusal(follow_up_create, actor=w["sales"], customer_id=w["mine"][0].pk, call_seconds=value)
    assert error.detail["field"] == "call_seconds"


def test_call_durations_read_and_shown_as_minutes_and_seconds():
    assert [parse_call_duration(v) for v in ("", None, "185", "3:05", "0:59", "1:02:03")] == [
        None, None, 185, 185, 59, 3723]
    for bad in ("3:60", "abc", "1:2:3:4", "-5", "99:99", "３:05", "25:00:01"):
        with pytest.raises(ShoalError) as info:
            parse_call_duration(bad)
        assert info.value.detail["field"] == "call_seconds"
    assert [call_duration_text(v) for v in (None, 0, 65, 185, 4503)] == ["", "00:00", "01:05", "03:05", "75:03"]


def test_a_customer_outside_the_scope_is_not_found(w):
    error = refusal(follow_up_create, actor=w["sales"], customer_id=w["outside"].pk, summary="偷看")
    assert (error.status, error.code) == (404, "not_found")
    assert not FollowUp.objects.exists()


def test_the_workspace_lists_urgent_first_then_the_best_customers(w):
    names = [t.customer.name for t in workspace_tasks(actor=w["sales"])]
    assert names == ["张三", "李四", "王五"]  # 张三 urgent; then quality 50, 30


def test_the_workspace_leaves_out_tasks_of_customers_outside_the_scope(w):
    # a stray open task of a customer the salesperson no longer holds (nor sees)
    Task.objects.create(type=TaskType.FOLLOW_UP, owner=w["sales"], customer=w["outside"], group=w["group"])
    assert w["outside"].pk not in {t.customer_id for t in workspace_tasks(actor=w["sales"])}


# -- requesting new tasks ------------------------------------------------------------------------------------
def finish(w):
    Task.objects.filter(owner=w["sales"]).update(progress=TaskProgress.DONE)


def test_request_needs_the_open_tasks_done_then_gives_the_best_customers_as_tasks(w):
    error = refusal(follow_up_tasks_request, actor=w["sales"])
    assert (error.status, error.code) == (409, "open_tasks")
    finish(w)
    out = follow_up_tasks_request(actor=w["sales"])  # one group with requests on: no group_id needed
    assert out["group_id"] == w["group"].pk and out["assigned"] == 2 and out["requests_left"] == 1
    assert [t.customer.name for t in out["items"]] == ["公海客户0", "公海客户1"]  # quality 20, 19
    assert all(t.owner_id == w["sales"].pk and t.is_open for t in out["items"])


def test_request_past_the_days_limit_is_429_saying_the_limit(w):
    for _ in range(2):
        finish(w)
        follow_up_tasks_request(actor=w["sales"], group_id=w["group"].pk)
    finish(w)
    error = refusal(follow_up_tasks_request, actor=w["sales"], group_id=w["group"].pk)
    assert (error.status, error.code) == (429, "request_limit")
    assert "2" in error.message and error.detail["requests_left"] == 0


def test_request_without_a_group_when_several_or_none_let_the_salesperson_request(w):
    finish(w)
    second = CustomerGroup.objects.create(name="电销二组", request_tasks=True)
    second.salespeople.add(w["sales"])
    error = refusal(follow_up_tasks_request, actor=w["sales"])
    assert (error.status, error.detail["field"]) == (400, "group_id")
    CustomerGroup.objects.update(request_tasks=False)
    error = refusal(follow_up_tasks_request, actor=w["sales"])
    assert (error.status, error.code) == (403, "requests_off")


def test_request_needs_the_claim_permission(w):
    w["role"].permissions = [p for p in w["role"].permissions if p != "pools.seas.claim"]
    w["role"].save()
    finish(w)
    error = refusal(follow_up_tasks_request, actor=w["sales"])
    assert (error.status, error.code) == (403, "permission_denied")


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00",
                                   "1969-12-31T23:00:00+00:00"])
def test_a_next_time_out_of_range_is_400_not_a_crash(w, value):
    from datetime import datetime

    error = refusal(follow_up_create, actor=w["sales"], customer_id=w["mine"][0].pk,
                    next_follow_up_at=datetime.fromisoformat(value))
    assert (error.status, error.detail["field"]) == (400, "next_follow_up_at")
    assert not FollowUp.objects.exists()
