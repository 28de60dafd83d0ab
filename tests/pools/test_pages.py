"""The sea pages (company / group public sea, my customers, recycle bin), batch transfer and the four logs: each
renders for admin, manager and salesperson with the rows of their data scope, masked, with filters and today's
entries by default; the customer list's batch actions and the detail page's pool panel and timeline labels."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from shoal.customers import selectors as customer_selectors
from shoal.customers.models import Customer, CustomerGroup, TimelineEntry
from shoal.pools import moves
from shoal.pools.models import AssignmentKind, AssignmentLog, GroupLog, Transfer
from shoal.sales.models import Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

POOL_CODES = {
    "manager": ["pools.seas.view", "pools.seas.group", "pools.seas.assign", "pools.seas.return",
                "pools.seas.recycle_bin", "pools.seas.restore", "pools.seas.transfer", "pools.logs.view"],
    "salesperson": ["pools.seas.view", "pools.seas.claim", "pools.seas.return", "pools.logs.view"],
}
SCOPE_SEES_GROUP_SEA = hasattr(customer_selectors, "scope_memberships")  # helper "scope": salespeople see it


@pytest.fixture
def world(personas):
    """Group 华东组 (manager administers it, salesperson sells in it) and 华南组 (another salesperson's):
    one customer in each place, with logs written by the moves (today) and one old entry."""
    for persona, codes in POOL_CODES.items():
        role = personas[persona].roles.first()
        role.permissions = sorted(set(role.permissions) | set(codes))
        role.save()
    other = make_user("p_other_sales")
    east = CustomerGroup.objects.create(name="华东组")
    east.admins.add(personas["manager"])
    east.salespeople.add(personas["salesperson"])
    south = CustomerGroup.objects.create(name="华南组")
    south.salespeople.add(other)

    def customer(name, mobile, **kw):
        return Customer.objects.create(name=name, mobile=mobile, **kw)

    c = {
        "company": customer("公海客户", "+8613800000001"),
        "group_sea": customer("组公海客户", "+8613800000002"),
        "mine": customer("我的客户甲", "+8613800000003"),
        "other": customer("别人的客户", "+8613800000004"),
        "bin": customer("回收站客户", "+8613800000005", in_recycle_bin=True),
    }
    ctx = moves.context(personas["admin"])
    moves.join_group([c["group_sea"].pk, c["mine"].pk], east.pk, ctx)
    moves.join_group([c["other"].pk], south.pk, ctx)
    moves.assign([(c["mine"].pk, personas["salesperson"].pk)], east.pk, ctx)
    moves.assign([(c["other"].pk, other.pk)], south.pk, ctx)
    old = GroupLog.objects.create(customer=c["mine"], to_group=east, at=timezone.now() - timedelta(days=3))
    Transfer.objects.create(from_user=other, to_user=personas["salesperson"], reason="离职交接", customer_count=3,
                            all_customers=True, operator=personas["admin"])
    return {"east": east, "south": south, "other": other, "c": c, "old": old}


def html_of(client, user, name, query=None):
    client.force_login(user)
    response = client.get(reverse(name), query or {})
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def shown(html, customer) -> bool:
    return f'data-customer="{customer.pk}"' in html


# -- the seas -------------------------------------------------------------------------------------------
def test_company_sea_lists_customers_in_no_group_masked(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["admin"], "admin:pools_company_sea")
    assert shown(html, c["company"])
    assert not any(shown(html, c[k]) for k in ("group_sea", "mine", "other", "bin"))
    assert "138****0001" in html and "13800000001" not in html  # masked as the customer list
    # the manager's scope holds no customer outside the groups
    assert not shown(html_of(client, personas["manager"], "admin:pools_company_sea"), c["company"])


def test_a_sea_page_reads_the_masking_parameters_once_whatever_its_rows(client, personas, world):
    """Masking a page of customers reads the phone region (and whether masking is on) once, not once a row: the
    page's queries do not grow with its rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(personas["admin"])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(reverse("admin:pools_company_sea")).content.decode()
        return html, [q["sql"] for q in ctx.captured_queries]

    html, few = queries()  # one customer in the company sea
    assert "138****0001" in html
    Customer.objects.bulk_create([Customer(name=f"公海{i}", mobile=f"+861390000{i:04d}") for i in range(25)])
    html, full = queries()  # a full page: 20 rows
    assert html.count("139****") == 20
    region = [sql for sql in full if "DEFAULT_PHONE_REGION" in sql]
    assert len(region) <= 1, region
    assert len(full) == len(few), (len(few), len(full))


def test_company_sea_search(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["admin"], "admin:pools_company_sea", {"q": "公海客户"})
    assert shown(html, c["company"])
    html = html_of(client, personas["admin"], "admin:pools_company_sea", {"q": "没有这个人"})
    assert not shown(html, c["company"])


def test_group_sea_shows_the_group_without_salesperson_and_assign_for_its_admin(client, personas, world):
    c = world["c"]
    for persona in ("admin", "manager"):
        html = html_of(client, personas[persona], "admin:pools_group_sea", {"group": world["east"].pk})
        assert shown(html, c["group_sea"]), persona
        assert not shown(html, c["mine"]) and not shown(html, c["other"])
        assert 'value="assign"' in html  # admins hand customers out
        assert "claim-button" not in html  # neither sells in the group
    # a group the manager neither administers nor sells in: not offered
    client.force_login(personas["manager"])
    assert client.get(reverse("admin:pools_group_sea"), {"group": world["south"].pk}).status_code == 404


@pytest.mark.skipif(not SCOPE_SEES_GROUP_SEA, reason="salespeople see the group public sea with helper scope's change")
def test_group_sea_offers_claim_to_the_groups_salesperson(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["salesperson"], "admin:pools_group_sea")
    assert shown(html, c["group_sea"]) and "claim-button" in html
    assert 'value="assign"' not in html


def test_my_customers_shows_the_private_sea_with_follow_up_and_task(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["salesperson"], "admin:pools_my_customers")
    assert shown(html, c["mine"])
    assert not any(shown(html, c[k]) for k in ("company", "group_sea", "other", "bin"))
    due = Task.objects.get(customer=c["mine"]).due_at
    assert timezone.localtime(due).strftime("%Y-%m-%d %H:%M") in html  # the open task, in local time
    assert "138****0003" in html
    # nobody else holds customers of their own
    assert not shown(html_of(client, personas["admin"], "admin:pools_my_customers"), c["mine"])


def test_recycle_bin_lists_binned_customers_with_restore(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["admin"], "admin:pools_recycle_bin")
    assert shown(html, c["bin"]) and not shown(html, c["company"])
    assert 'value="restore"' in html
    assert not shown(html_of(client, personas["salesperson"], "admin:pools_recycle_bin"), c["bin"])


def test_sea_pages_need_the_permission(client, personas, world):
    client.force_login(personas["norole"])
    for name in ("admin:pools_company_sea", "admin:pools_group_sea", "admin:pools_my_customers",
                 "admin:pools_recycle_bin", "admin:pools_transfer", "admin:pools_group_log"):
        assert client.get(reverse(name)).status_code == 403, name


def test_an_action_without_its_permission_is_refused(client, personas, world):
    client.force_login(personas["salesperson"])  # may claim, not put in the recycle bin
    response = client.post(reverse("admin:pools_seas_action"),
                           {"action": "recycle_bin", "ids": [world["c"]["mine"].pk]})
    assert response.status_code == 403
    assert not Customer.objects.get(pk=world["c"]["mine"].pk).in_recycle_bin


def test_an_action_without_customers_says_so(client, personas, world):
    client.force_login(personas["admin"])
    response = client.post(reverse("admin:pools_seas_action"), {"action": "restore"}, follow=True)
    assert response.status_code == 200
    assert "Choose at least one customer" in response.content.decode() or "至少" in response.content.decode()


# -- logs -----------------------------------------------------------------------------------------------
def test_group_log_shows_today_by_default_in_scope(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["admin"], "admin:pools_group_log")
    assert all(shown(html, c[k]) for k in ("group_sea", "mine", "other"))
    assert f'value="{timezone.localdate().isoformat()}"' in html  # today, local
    assert html.count(f'data-customer="{c["mine"].pk}"') == 1  # the old entry is not today's
    html = html_of(client, personas["admin"], "admin:pools_group_log", {"start": "", "end": ""})
    assert html.count(f'data-customer="{c["mine"].pk}"') == 2
    # the salesperson sees only the entries of customers in their scope
    html = html_of(client, personas["salesperson"], "admin:pools_group_log")
    assert shown(html, c["mine"]) and not shown(html, c["other"])
    assert "138****0003" in html and "13800000003" not in html


def test_group_log_filters_by_group_and_kind(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["admin"], "admin:pools_group_log", {"group": world["south"].pk})
    assert shown(html, c["other"]) and not shown(html, c["mine"])
    html = html_of(client, personas["admin"], "admin:pools_group_log", {"kind": "auto"})
    assert not shown(html, c["mine"])


def test_assignment_log_filters_by_salesperson_and_kind(client, personas, world):
    c = world["c"]
    html = html_of(client, personas["admin"], "admin:pools_assignment_log")
    assert shown(html, c["mine"]) and shown(html, c["other"])
    html = html_of(client, personas["admin"], "admin:pools_assignment_log", {"salesperson": world["other"].pk})
    assert shown(html, c["other"]) and not shown(html, c["mine"])
    html = html_of(client, personas["admin"], "admin:pools_assignment_log", {"kind": "claim"})
    assert not shown(html, c["mine"])
    html = html_of(client, personas["manager"], "admin:pools_assignment_log")
    assert shown(html, c["mine"]) and not shown(html, c["other"])  # the manager administers 华东组 only


def test_recycle_history_lists_returns_and_the_recycle_bin(client, personas, world):
    c = world["c"]
    ctx = moves.context(personas["admin"])
    moves.unassign([c["other"].pk], world["south"].pk, ctx)
    moves.to_recycle_bin([c["company"].pk], ctx)
    html = html_of(client, personas["admin"], "admin:pools_recycle_log")
    assert shown(html, c["other"]) and shown(html, c["company"])
    assert not shown(html, c["mine"])  # assigned, not taken back
    assert 'data-kind="return_group_sea"' in html and 'data-kind="recycle_bin"' in html
    html = html_of(client, personas["admin"], "admin:pools_recycle_log", {"kind": "recycle_bin"})
    assert shown(html, c["company"]) and not shown(html, c["other"])


def test_transfer_records_today_and_scoped(client, personas, world):
    html = html_of(client, personas["admin"], "admin:pools_transfers")
    assert "离职交接" in html
    html = html_of(client, personas["salesperson"], "admin:pools_transfers")
    assert "离职交接" in html  # named in it
    html = html_of(client, personas["manager"], "admin:pools_transfers")
    assert "离职交接" in html  # to a salesperson of the group the manager administers
    outsider = make_user("p_outsider")
    outsider.roles.set([personas["salesperson"].roles.first()])
    assert "离职交接" not in html_of(client, outsider, "admin:pools_transfers")
    Transfer.objects.update(at=timezone.now() - timedelta(days=2))
    assert "离职交接" not in html_of(client, personas["admin"], "admin:pools_transfers")


def test_transfer_page_lists_the_from_salespersons_customers(client, personas, world):
    html = html_of(client, personas["manager"], "admin:pools_transfer", {"from_user": personas["salesperson"].pk})
    assert shown(html, world["c"]["mine"]) and "138****0003" in html


def test_transfer_form_checks_its_input_before_the_service(client, personas, world):
    client.force_login(personas["manager"])
    response = client.post(reverse("admin:pools_transfer"), {"from_user": personas["salesperson"].pk,
                                                             "to_user": personas["salesperson"].pk,
                                                             "reason": "x", "mode": "all"})
    assert response.status_code == 200
    assert not Transfer.objects.filter(reason="x").exists()


# -- the customer list and detail ---------------------------------------------------------------------------
def test_customer_list_offers_the_sea_actions_the_user_holds(client, personas, world):
    html = html_of(client, personas["manager"], "admin:customers_customer_changelist")
    for action in ("pools_group", "pools_assign", "pools_recycle_bin", "pools_restore", "pools_return_to_group_sea",
                   "pools_claim"):  # the default manager role holds every sea action
        assert f'value="{action}"' in html, action
    html = html_of(client, personas["salesperson"], "admin:customers_customer_changelist")
    assert 'value="pools_claim"' in html and 'value="pools_assign"' not in html


def test_customer_list_batch_action_asks_for_the_group_first(client, personas, world):
    client.force_login(personas["manager"])
    response = client.post(reverse("admin:customers_customer_changelist"),
                           {"action": "pools_assign", "_selected_action": [world["c"]["group_sea"].pk]})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="batch-group"' in html and 'id="batch-salesperson"' in html
    assert "华东组" in html and "华南组" not in html  # only groups the manager administers


def test_detail_shows_assignment_invited_by_follow_ups_and_action_labels(client, personas, world):
    c = world["c"]
    Customer.objects.filter(pk=c["mine"].pk).update(invited_by=c["group_sea"])
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:customers_customer_detail", args=[c["mine"].pk])).content.decode()
    assert 'id="pools-panel"' in html and 'id="follow-up-form"' in html
    assert "组公海客户" in html  # invited by
    assigned = timezone.localtime(world["east"].memberships.get(customer=c["mine"]).assigned_at)
    assert assigned.strftime("%Y-%m-%d %H:%M") in html
    assert 'data-action="join_group"' in html and 'data-action="assign"' in html
    assert TimelineEntry.objects.filter(customer=c["mine"], detail__action="assign").exists()


def test_timeline_action_labels_are_translated(client, personas, world):
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:customers_customer_detail", args=[world["c"]["mine"].pk]),
                      HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "加入分组" in html and "分配" in html


def test_assignment_log_kinds_are_the_models(world):
    assert set(AssignmentLog.objects.values_list("kind", flat=True)) == {AssignmentKind.ASSIGN}


# -- the buttons and forms call the services (helper "ops") ------------------------------------------------
def test_claim_button_gives_the_customer_to_the_salesperson(client, personas, world):
    c = world["c"]
    client.force_login(personas["salesperson"])
    response = client.post(reverse("admin:pools_seas_action"),
                           {"action": "claim", "ids": [c["group_sea"].pk], "group_id": world["east"].pk,
                            "next": reverse("admin:pools_group_sea")}, follow=True)
    assert response.status_code == 200
    assert world["east"].memberships.get(customer=c["group_sea"]).salesperson_id == personas["salesperson"].pk
    assert shown(html_of(client, personas["salesperson"], "admin:pools_my_customers"), c["group_sea"])
    assert shown(html_of(client, personas["admin"], "admin:pools_assignment_log", {"kind": "claim"}), c["group_sea"])


def test_a_refused_action_is_a_message_not_an_error(client, personas, world):
    c = world["c"]
    client.force_login(personas["admin"])  # not a salesperson of 华东组: may not claim there
    response = client.post(reverse("admin:pools_seas_action"),
                           {"action": "claim", "ids": [c["group_sea"].pk], "group_id": world["east"].pk}, follow=True)
    assert response.status_code == 200
    assert world["east"].memberships.get(customer=c["group_sea"]).salesperson_id is None


def test_restore_from_the_recycle_bin_page(client, personas, world):
    client.force_login(personas["admin"])
    client.post(reverse("admin:pools_seas_action"), {"action": "restore", "ids": [world["c"]["bin"].pk]})
    assert not Customer.objects.get(pk=world["c"]["bin"].pk).in_recycle_bin
    assert shown(html_of(client, personas["admin"], "admin:pools_company_sea"), world["c"]["bin"])


def test_transfer_form_moves_all_customers_and_records_it(client, personas, world):
    new = make_user("p_new_sales")
    world["east"].salespeople.add(new)
    client.force_login(personas["manager"])
    response = client.post(reverse("admin:pools_transfer"), {"from_user": personas["salesperson"].pk,
                                                             "to_user": new.pk, "reason": "离职", "mode": "all"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:pools_transfers")
    assert world["east"].memberships.get(customer=world["c"]["mine"]).salesperson_id == new.pk
    record = Transfer.objects.get(reason="离职")
    assert record.customer_count == 1 and record.all_customers


def test_list_batch_action_assigns_the_selection(client, personas, world):
    c = world["c"]
    client.force_login(personas["manager"])
    client.post(reverse("admin:customers_customer_changelist"),
                {"action": "pools_assign", "_selected_action": [c["group_sea"].pk], "apply": "1",
                 "group_id": world["east"].pk, "salesperson_id": personas["salesperson"].pk})
    assert world["east"].memberships.get(customer=c["group_sea"]).salesperson_id == personas["salesperson"].pk


def test_follow_up_form_records_a_follow_up(client, personas, world):
    from shoal.sales.models import FollowUp

    c = world["c"]
    client.force_login(personas["salesperson"])
    response = client.post(reverse("admin:pools_follow_up", args=[c["mine"].pk]),
                           {"method": "phone", "status": "reached", "effective": "1", "summary": "聊得不错",
                            "next_follow_up_at": "2030-01-02T10:30"})
    assert response.status_code == 302
    follow_up = FollowUp.objects.get(customer=c["mine"])
    assert follow_up.effective and follow_up.summary == "聊得不错"
    assert timezone.localtime(follow_up.next_follow_up_at).strftime("%Y-%m-%d %H:%M") == "2030-01-02 10:30"
    customer = Customer.objects.get(pk=c["mine"].pk)
    assert customer.follow_up_count == 1 and customer.last_follow_up_at is not None
    html = client.get(reverse("admin:customers_customer_detail", args=[c["mine"].pk])).content.decode()
    assert "聊得不错" in html


def test_my_customers_requests_customers_with_csrf_and_shows_the_answer(client, personas, world):
    from shoal.sales.models import Task

    sp, east = personas["salesperson"], world["east"]
    assert 'id="sea-request"' not in html_of(client, sp, "admin:pools_my_customers")  # the group does not allow it
    CustomerGroup.objects.filter(pk=east.pk).update(request_tasks=True, request_size=5)
    html = html_of(client, sp, "admin:pools_my_customers")
    assert 'id="sea-request"' in html and "领取" in html
    response = client.post(reverse("admin:pools_request"), {"group": east.pk}, follow=True)
    assert "请先完成未完成的跟进任务" in response.content.decode()  # its follow-up task is still open
    Task.objects.filter(owner=sp).update(progress="done")
    response = client.post(reverse("admin:pools_request"), {"group": east.pk}, follow=True)
    assert world["c"]["group_sea"].memberships.get(group=east).salesperson_id == sp.pk
    assert "1 个客户已归你跟进" in response.content.decode()
