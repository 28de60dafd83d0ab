"""The follow-up workspace page (客户跟进任务): the salesperson's open follow-up tasks (urgent first, then the best
customers) with the customer's key facts masked as configured, a tel: link only to a number the user may see,
the follow-up form opened and posted through htmx (the task done and gone), "request new tasks", a fixed
number of queries per page; and the follow-up records (跟进记录) on the customer detail."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shoal.accounts.models import MaskingPolicy, User
from shoal.core import parameters
from shoal.customers import masking
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.quality import set_scores
from shoal.pools import moves
from shoal.sales.models import OPEN_PROGRESS, FollowUp, Task, TaskProgress
from shoal.sales.services.follow_ups import follow_up_create
from tests.sales.workspace_world import build

pytestmark = pytest.mark.django_db
URL = "/sales/follow-up-tasks/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def w():
    parameters.set_value("MASKING_ENABLED", True)
    return build()


def page_html(client, user, **params) -> str:
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.content.decode()


def task_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tbody id="task-(\d+)"', html)]


def test_the_page_lists_my_open_tasks_urgent_first_then_by_quality(client, w):
    html = page_html(client, w["sales"])
    t = w["tasks"]
    assert task_ids(html) == [t["张三"].pk, t["李四"].pk, t["王五"].pk]
    assert "客户跟进任务" in html and "我的跟进任务" in html and "共 3 个任务" in html
    assert "紧急" in html and "电销一组" in html
    assert "别人的客户" not in html  # another salesperson's customer


def test_mobile_is_masked_and_the_call_link_has_the_real_number_for_my_assigned_customers(client, w):
    html = page_html(client, w["sales"])  # policy: mask except customers assigned to me
    assert "138****8000" in html  # 张三, +8613800138000, masked as on every list
    assert 'href="tel:+8613800138000"' in html and html.count('class="call-button') == 3


def test_a_salesperson_whose_role_masks_everything_gets_no_real_number(client, w):
    User.objects.filter(pk=w["sales"].pk).update(masking_policy=MaskingPolicy.MASK_ALL)
    html = page_html(client, User.objects.get(pk=w["sales"].pk))
    assert "138****8000" in html
    assert "tel:" not in html and "13800138000" not in html
    assert html.count('class="call-off') == 3


def test_with_masking_off_every_number_may_be_called(client, w):
    parameters.set_value("MASKING_ENABLED", False)
    User.objects.filter(pk=w["sales"].pk).update(masking_policy=MaskingPolicy.MASK_ALL)
    html = page_html(client, User.objects.get(pk=w["sales"].pk))
    assert 'href="tel:+8613800138000"' in html


@pytest.mark.parametrize("policy", list(MaskingPolicy.values))
def test_unmasked_ids_answer_as_should_mask_does_for_each_customer(w, policy):
    viewer = w["sales"]
    viewer.masking_policy = policy
    admin_group = CustomerGroup.objects.create(name="管理组")
    admin_group.admins.add(viewer)
    moves.join_group([w["sea"][0].pk], admin_group.pk, moves.context(None))
    Customer.objects.filter(pk=w["mine"][2].pk).update(in_recycle_bin=True)
    customers = list(Customer.objects.all())
    expected = {c.pk for c in customers if not masking.should_mask(viewer=viewer, customer=c, context="detail")}
    assert masking.unmasked_ids(viewer=viewer, customers=customers) == expected


def test_the_page_reads_a_fixed_number_of_queries_whatever_the_tasks(client, w):
    client.force_login(w["sales"])
    client.get(URL)  # warm: session, permissions

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    ids = [c.pk for c in w["sea"]]
    moves.assign([(pk, w["sales"].pk) for pk in ids], w["group"].pk, moves.context(None))
    assert Task.objects.filter(owner=w["sales"], progress__in=OPEN_PROGRESS).count() == 8
    assert queries() == few


def test_the_page_is_paginated_by_20(client, w):
    customers = Customer.objects.bulk_create([Customer(name=f"批量{i}") for i in range(25)])
    set_scores({c.pk: i for i, c in enumerate(customers)})
    ids = [c.pk for c in customers]
    ctx = moves.context(None)
    moves.join_group(ids, w["group"].pk, ctx)
    moves.assign([(pk, w["sales"].pk) for pk in ids], w["group"].pk, ctx)
    first = page_html(client, w["sales"])
    second = page_html(client, w["sales"], page=2)
    assert len(task_ids(first)) == 20 and len(task_ids(second)) == 8 and "共 28 个任务" in first
    assert not set(task_ids(first)) & set(task_ids(second))


def test_the_form_opens_inline_with_the_enum_options(client, w):
    client.force_login(w["sales"])
    task = w["tasks"]["李四"]
    response = client.get(reverse("admin:sales_workspace_record_form", args=[task.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and f'hx-post="/sales/follow-up-tasks/{task.pk}/record/"' in html
    assert '<option value="key_account">大客户</option>' in html
    assert '<option value="friend_referral">朋友推荐</option>' in html
    assert "通话时长" in html and "沟通纪要" in html and "成熟度" in html and "邀请类型" in html
    # without htmx: the customer's detail, where the same form is
    response = client.get(reverse("admin:sales_workspace_record_form", args=[task.pk]))
    assert response.status_code == 302 and response["Location"].endswith(f"/{task.customer_id}/detail/#pools-panel")


def test_recording_through_htmx_completes_the_task_and_opens_the_next(client, w):
    client.force_login(w["sales"])
    task = w["tasks"]["李四"]
    response = client.post(reverse("admin:sales_workspace_record", args=[task.pk]), {
        "method": "phone", "status": "interested", "effective": "1", "maturity": "interested",
        "invitation_type": "self_registered", "summary": "有意向", "call_duration": "2:30",
        "next_follow_up_at": "2030-01-02T10:30"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<tbody id="task-{task.pk}" class="task-done">' in html and "任务已完成" in html
    assert "2030-01-02 10:30" in html and 'id="workspace-count" hx-swap-oob="true"' in html
    task.refresh_from_db()
    assert task.progress == TaskProgress.DONE
    follow_up = FollowUp.objects.get(customer_id=task.customer_id)
    assert (follow_up.call_seconds, follow_up.maturity, follow_up.effective) == (150, "interested", True)
    assert timezone.localtime(follow_up.next_follow_up_at).strftime("%Y-%m-%d %H:%M") == "2030-01-02 10:30"
    nxt = Task.objects.get(customer_id=task.customer_id, progress__in=OPEN_PROGRESS)
    assert nxt.due_at == follow_up.next_follow_up_at
    assert task.pk not in task_ids(page_html(client, w["sales"])) and nxt.pk in task_ids(page_html(client, w["sales"]))


def test_a_bad_entry_brings_the_form_back_with_the_message_and_changes_nothing(client, w):
    client.force_login(w["sales"])
    task = w["tasks"]["李四"]
    url = reverse("admin:sales_workspace_record", args=[task.pk])
    for data, field in (({"method": "phone", "status": "reached", "maturity": "熟透了"}, "maturity"),
                        ({"method": "phone", "status": "reached", "call_duration": "3:99"}, "call_seconds"),
                        ({"method": "phone", "status": "reached", "next_follow_up_at": "明天"}, "next_follow_up_at")):
        response = client.post(url, {**data, "summary": "留着"}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200 and response["HX-Retarget"] == f"#task-{task.pk}-form"
        assert f'data-field="{field}"' in html and 'value="留着"' in html
    task.refresh_from_db()
    assert task.progress == TaskProgress.NOT_STARTED and not FollowUp.objects.exists()


def test_without_htmx_recording_redirects_with_a_message(client, w):
    client.force_login(w["sales"])
    task = w["tasks"]["王五"]
    response = client.post(reverse("admin:sales_workspace_record", args=[task.pk]),
                           {"method": "visit", "status": "reached"}, follow=True)
    assert response.redirect_chain[-1][0] == URL and "跟进记录已保存，任务已完成。" in response.content.decode()
    assert Task.objects.get(pk=task.pk).progress == TaskProgress.DONE


def test_someone_elses_task_is_not_found(client, w):
    theirs = Task.objects.get(owner=w["other"], customer=w["outside"])
    client.force_login(w["sales"])
    assert client.post(reverse("admin:sales_workspace_record", args=[theirs.pk]),
                       {"method": "phone", "status": "reached"}).status_code == 404
    assert client.get(reverse("admin:sales_workspace_record_form", args=[theirs.pk]), **HTMX).status_code == 404
    assert Task.objects.get(pk=theirs.pk).progress == TaskProgress.NOT_STARTED


def test_recording_needs_the_create_permission(client, w):
    w["role"].permissions = [p for p in w["role"].permissions if p != "sales.follow_ups.create"]
    w["role"].save()
    html = page_html(client, w["sales"])
    assert "record-button" not in html
    task = w["tasks"]["李四"]
    assert client.post(reverse("admin:sales_workspace_record", args=[task.pk]),
                       {"method": "phone", "status": "reached"}).status_code == 403


def test_request_new_tasks_from_the_page(client, w):
    html = page_html(client, w["sales"])
    assert 'id="request-tasks"' in html and "每次 2 个，每天 2 次" in html
    response = client.post(reverse("admin:sales_workspace_request"), {"group": w["group"].pk}, follow=True)
    assert "请先完成未完成的跟进任务，再领取新客户" in response.content.decode()
    Task.objects.filter(owner=w["sales"]).update(progress=TaskProgress.DONE)
    response = client.post(reverse("admin:sales_workspace_request"), {}, follow=True)  # the one group
    html = response.content.decode()
    assert "新增 2 条跟进任务。" in html and "公海客户0" in html and "公海客户1" in html


def test_the_request_button_shows_only_in_groups_with_requests_on(client, w):
    CustomerGroup.objects.update(request_tasks=False)
    assert 'id="request-tasks"' not in page_html(client, w["sales"])


# -- the customer detail: follow-up records (跟进记录) --------------------------------------------------------
def test_the_detail_lists_follow_up_records_with_the_new_columns_in_local_time(client, w):
    zhang = w["mine"][0]
    follow_up = follow_up_create(actor=w["sales"], customer_id=zhang.pk, method="wechat", status="interested",
                                 summary="约了下周", maturity="key_account", invitation_type="friend_referral",
                                 call_seconds=185, next_follow_up_at=timezone.now() + timedelta(days=7))
    client.force_login(w["sales"])
    html = client.get(reverse("admin:customers_customer_detail", args=[zhang.pk])).content.decode()
    row = re.search(rf'<tr[^>]*data-follow-up="{follow_up.pk}".*?</tr>', html, re.S).group(0)
    assert "大客户" in row and "朋友推荐" in row and "03:05" in row and "约了下周" in row and "微信" in row
    assert timezone.localtime(follow_up.created_at).strftime("%Y-%m-%d %H:%M:%S") in row
    assert "跟进记录" in html and "成熟度" in html and "邀请类型" in html and "通话时长" in html


def test_the_detail_form_records_the_new_fields(client, w):
    wang = w["mine"][2]
    client.force_login(w["sales"])
    html = client.get(reverse("admin:customers_customer_detail", args=[wang.pk])).content.decode()
    assert 'name="maturity"' in html and 'name="call_duration"' in html
    response = client.post(reverse("admin:pools_follow_up", args=[wang.pk]), {
        "method": "phone", "status": "reached", "maturity": "potential", "invitation_type": "event",
        "call_duration": "75"})
    assert response.status_code == 302
    follow_up = FollowUp.objects.get(customer=wang)
    assert (follow_up.maturity, follow_up.invitation_type, follow_up.call_seconds) == ("potential", "event", 75)
    assert not Task.objects.filter(owner=w["sales"], customer=wang, progress__in=OPEN_PROGRESS).exists()
    # an unknown code: a message, nothing recorded
    response = client.post(reverse("admin:pools_follow_up", args=[wang.pk]),
                           {"method": "phone", "status": "reached", "maturity": "nope"}, follow=True)
    assert "未知的成熟度" in response.content.decode() and FollowUp.objects.filter(customer=wang).count() == 1
    assert CustomerGroupMembership.objects.get(customer=wang).salesperson_id == w["sales"].pk


def test_a_user_without_the_follow_up_permissions_gets_403_everywhere(client, w, personas):
    task = w["tasks"]["李四"]
    client.force_login(personas["norole"])
    assert client.get(URL).status_code == 403
    assert client.get(reverse("admin:sales_workspace_record_form", args=[task.pk]), **HTMX).status_code == 403
    assert client.post(reverse("admin:sales_workspace_record", args=[task.pk]), {}).status_code == 403
    assert client.post(reverse("admin:sales_workspace_request"), {}).status_code == 403
    assert Task.objects.get(pk=task.pk).progress == TaskProgress.NOT_STARTED
