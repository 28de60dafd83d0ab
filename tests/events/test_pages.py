"""The events pages in zh-hans: the event registry (list, form with field rows, batch actions, built-in
types, the warning naming strategies), the event history (reasons, results, masked source data, filters) and
the customer detail's events tab."""

import pytest
from django.urls import reverse

from shoal.accounts.models import MaskingPolicy
from shoal.customers.models import Customer
from shoal.events.hooks import register_event_type_users, unregister_event_type_users
from shoal.events.models import Event, EventResult, EventType
from shoal.events.services.processing import process_pending

from .conftest import event, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, personas):
    client.force_login(personas["admin"])
    return client


def test_the_registry_lists_types_and_takes_batch_actions(admin_client, purchase, login):
    html = admin_client.get(reverse("admin:event_types")).content.decode()
    assert "事件注册中心" in html and "导入内置事件" in html and "purchase" in html and "登录" in html
    url = reverse("admin:event_types_action")
    admin_client.post(url, {"action": "disable", "ids": [purchase.pk, login.pk]})
    assert not EventType.objects.filter(enabled=True).exists()
    admin_client.post(url, {"action": "copy", "ids": [purchase.pk]})
    assert EventType.objects.filter(code="purchase_copy", name="购买（副本）").exists()
    response = admin_client.post(url, {"action": "import_builtins"}, follow=True)
    assert "已导入内置事件：新增 6 个" in response.content.decode()
    assert EventType.objects.filter(code="birthday", name="生日提醒").exists()


def test_a_type_is_registered_with_its_field_rows(admin_client):
    response = admin_client.post(reverse("admin:event_type_add"), {
        "name": "银行代扣还款", "code": "event154158", "enabled": "1", "remarks": "还款方式：银行代扣",
        "field_key": ["loan_type", "rep_amount", ""], "field_type": ["text", "number", "text"],
        "field_label": ["还款方式", "应还款金额", ""], "field_required": ["1", "0", "0"],
        "field_remarks": ["", "", ""]})
    assert response.status_code == 302
    stored = EventType.objects.get(code="event154158")
    assert stored.enabled and not stored.create_customers
    assert stored.fields == [
        {"key": "loan_type", "type": "text", "label": "还款方式", "required": True, "remarks": ""},
        {"key": "rep_amount", "type": "number", "label": "应还款金额", "required": False, "remarks": ""}]
    page = admin_client.get(reverse("admin:event_type_edit", args=[stored.pk])).content.decode()
    assert "rep_amount" in page and "第二步：配置事件参数" in page


def test_a_bad_form_says_why_and_keeps_what_was_typed(admin_client):
    response = admin_client.post(reverse("admin:event_type_add"), {
        "name": "x", "code": "x", "field_key": ["a", "a"], "field_type": ["text", "text"],
        "field_label": ["", ""], "field_required": ["0", "0"], "field_remarks": ["", ""]})
    html = response.content.decode()
    assert response.status_code == 200 and "字段名 a 重复" in html
    assert not EventType.objects.exists()


def test_changing_a_used_type_asks_first_and_names_the_strategies(admin_client, purchase):
    def users(event_type):
        return ["新客首单送券"] if event_type.code == "purchase" else []

    register_event_type_users(users)
    try:
        url = reverse("admin:event_types_action")
        response = admin_client.post(url, {"action": "disable", "ids": [purchase.pk]})
        html = response.content.decode()
        assert "有策略使用该事件类型" in html and "新客首单送券" in html
        assert EventType.objects.get(pk=purchase.pk).enabled
        admin_client.post(url, {"action": "disable", "ids": [purchase.pk], "force": "1"})
        assert not EventType.objects.get(pk=purchase.pk).enabled
        response = admin_client.post(reverse("admin:event_type_delete", args=[purchase.pk]))
        assert "新客首单送券" in response.content.decode() and EventType.objects.exists()
        admin_client.post(reverse("admin:event_type_delete", args=[purchase.pk]), {"force": "1"})
        assert not EventType.objects.exists()
    finally:
        unregister_event_type_users(users)


def test_the_history_page_shows_results_reasons_and_masked_data(admin_client, personas, app, purchase):
    admin = personas["admin"]
    admin.masking_policy = MaskingPolicy.MASK_ALL
    admin.save()
    send(app, event(1, customer={"mobile": "13800138000"}), event(2, data={}), event(3, code="nope"))
    ok = Event.objects.get(client_id="e1")
    EventResult.objects.create(event_id=ok.pk, event_received_at=ok.received_at, strategy_id=1,
                               strategy_name="首单送券", matched=True)
    EventResult.objects.create(event_id=ok.pk, event_received_at=ok.received_at, strategy_id=1,
                               strategy_name="首单送券", processor="发送短信", status="success", response_code=200)
    html = admin_client.get(reverse("admin:event_history")).content.decode()
    assert "事件历史" in html and "共 3 条事件" in html
    assert "缺少必填字段 amount" in html and "未知事件类型 nope" in html
    assert "首单送券" in html and "发送短信" in html
    assert "138****8000" in html and "13800138000" not in html
    failed = admin_client.get(reverse("admin:event_history") + "?status=failed").content.decode()
    assert "共 2 条事件" in failed
    other_day = admin_client.get(reverse("admin:event_history") + "?start=2020-01-01&end=2020-01-02").content.decode()
    assert "没有符合条件的事件" in other_day


def test_the_customer_detail_has_an_events_tab(admin_client, app, purchase):
    send(app, event(1, customer={"ent_user_id": "a"}, data={"amount": 3}),
         event(2, customer={"ent_user_id": "a"}, data={"amount": 8}))
    process_pending()
    customer = Customer.objects.get(ent_user_id="a")
    html = admin_client.get(reverse("admin:customers_customer_detail", args=[customer.pk])).content.decode()
    assert 'data-tab="events"' in html and 'id="customer-events"' in html
    assert "购买" in html and "&quot;amount&quot;: 8" in html
    assert "该客户的事件历史" in html


def test_the_application_page_keeps_the_allow_list_and_the_snippet_settings(admin_client, app):
    url = reverse("admin:accounts_application_change", args=[app.pk])
    page = admin_client.get(url).content.decode()
    assert "IP 白名单" in page and "页面代码片段" in page
    response = admin_client.post(url, {
        "name": "ERP", "description": "", "enabled": "on", "ip_allow_list": "10.0.0.0/8\n203.0.113.7",
        "publishable_event_types_text": "login\nclick", "publishable_origins_text": "https://Shop.example.com/"})
    assert response.status_code == 302, response.content.decode()[:2000]
    app.refresh_from_db()
    assert app.ip_allow_list == "10.0.0.0/8\n203.0.113.7/32"
    assert (app.publishable_event_types, app.publishable_origins) == (["login", "click"], ["https://shop.example.com"])
    bad = admin_client.post(url, {"name": "ERP", "enabled": "on", "ip_allow_list": "10.0.0.0/33"})
    assert bad.status_code == 200 and "10.0.0.0/33" in bad.content.decode()
    action = admin_client.get(reverse("admin:accounts_application_publishable_key_action", args=[app.pk]), follow=True)
    app.refresh_from_db()
    assert app.publishable_key.startswith("shp_") and app.publishable_key in action.content.decode()
