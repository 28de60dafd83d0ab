"""The pages in zh-hans: the processor registry (secret shown once), message templates, the SMS and email
logs (recipients masked per the reader, within the reader's data scope)."""

import re

import pytest
from django.urls import reverse

from shoal.automation import services
from shoal.automation.models import MessageLog, MessageTemplate, Processor
from shoal.customers import services as customer_services
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, roles):
    user = make_user("page_admin", roles["admin"], language="zh-hans")
    client.force_login(user)
    return user


def test_the_registry_lists_builtins_in_chinese(client, admin):
    services.processor_create(actor=None, data={"name": "外部发邮件系统", "url": "https://mail.example.com/send"})
    html = client.get(reverse("admin:automation_processors")).content.decode()
    for words in ("处理器注册中心", "注册处理器", "打标签", "发送短信", "发送邮件", "分配", "内置", "扩展", "外部发邮件系统",
                  "https://mail.example.com/send"):
        assert words in html, words
    # the action parameters by name, the key beside it (what the strategy's action names)
    for words in ("标签 (tag_id)", "分组 (group_id)", "业务员 (salesperson_id)", "消息模板 (template)",
                  "手机号 (mobile)", "截止时间（几小时后） (due_hours)", "接收人 (to)"):
        assert words in html, words


def test_every_builtin_parameter_has_a_name_for_people():
    from shoal.core.processors import builtin_processors

    for spec in builtin_processors():
        keys = set((spec.params.model_json_schema().get("properties") or {}).keys())
        assert keys <= set(spec.param_labels), (spec.code, keys - set(spec.param_labels))


def test_registering_a_processor_shows_its_secret_once(client, admin):
    response = client.post(reverse("admin:automation_processor_add"), {
        "name": "感谢信", "url": "https://hooks.example.com/thanks", "method": "POST", "timeout": "5", "enabled": "on",
        "param_name": ["email", "", ""], "param_value": ["${email}", "", ""],
        "header_name": ["X-Token", ""], "header_value": ["t", ""], "body": '{"name": "${user_name}"}'})
    processor = Processor.objects.get()
    secret_url = reverse("admin:automation_processor_secret", args=[processor.pk])
    assert response.status_code == 302 and response["Location"] == secret_url  # a reload registers nothing twice
    shown = client.get(secret_url)
    html = shown.content.decode()
    assert processor.secret in html and "只显示这一次" in html and "no-store" in shown["Cache-Control"]
    assert (processor.params, processor.headers, processor.body, processor.timeout) == (
        {"email": "${email}"}, {"X-Token": "t"}, {"name": "${user_name}"}, 5)
    again = client.get(secret_url, follow=True)  # once only: the edit page, saying so
    assert processor.secret not in again.content.decode() and "只显示一次" in again.content.decode()
    assert again.redirect_chain[-1][0] == reverse("admin:automation_processor_edit", args=[processor.pk])
    edit = client.get(reverse("admin:automation_processor_edit", args=[processor.pk])).content.decode()
    assert processor.secret not in edit and "${user_name}" in edit
    renewed = client.post(secret_url, follow=True).content.decode()
    old = processor.secret
    processor.refresh_from_db()
    assert processor.secret != old and processor.secret in renewed
    assert Processor.objects.count() == 1


def test_a_missing_template_field_is_named_in_words(client, admin):
    response = client.post(reverse("admin:automation_template_add", args=["sms"]), {"name": "验证码", "code": "c1"})
    html = response.content.decode()
    assert response.status_code == 200 and "form-errors" in html
    assert "内容 为必填项" in html and "content" not in re.findall(r'class="form-errors[^>]*>([^<]*)<', html)[0]


def test_a_refused_url_is_a_form_error_not_a_500(client, admin):
    response = client.post(reverse("admin:automation_processor_add"), {
        "name": "内网", "url": "http://192.168.1.10/hook", "method": "POST", "timeout": "10"})
    assert response.status_code == 200 and "form-errors" in response.content.decode()
    assert not Processor.objects.exists()


def test_editing_and_deleting_a_processor(client, admin):
    processor, _ = services.processor_create(actor=None, data={"name": "旧", "url": "https://example.com/a"})
    response = client.post(reverse("admin:automation_processor_edit", args=[processor.pk]), {
        "name": "新", "url": "https://example.com/b", "method": "GET", "timeout": "10", "enabled": "on"})
    assert response.status_code == 302
    processor.refresh_from_db()
    assert (processor.name, processor.url, processor.method) == ("新", "https://example.com/b", "GET")
    assert client.post(reverse("admin:automation_processor_delete", args=[processor.pk])).status_code == 302
    assert not Processor.objects.exists()


def test_message_templates_of_both_channels(client, admin):
    response = client.post(reverse("admin:automation_template_add", args=["sms"]), {
        "name": "验证码", "code": "0001", "content": "您正在进行身份验证，验证码${code}，请勿告知他人！", "enabled": "on"})
    assert response.status_code == 302
    html = client.get(reverse("admin:automation_templates") + "?channel=sms").content.decode()
    assert "消息模板" in html and "验证码" in html and "0001" in html
    refused = client.post(reverse("admin:automation_template_add", args=["email"]), {
        "name": "感谢信", "code": "thanks", "content": "谢谢"})  # no subject
    assert refused.status_code == 200 and "form-errors" in refused.content.decode()
    client.post(reverse("admin:automation_template_add", args=["email"]), {
        "name": "感谢信", "code": "thanks", "subject": "感谢", "content": "谢谢 ${customer.name}", "enabled": "on"})
    template = MessageTemplate.objects.get(channel="email")
    page = client.get(reverse("admin:automation_template_edit", args=[template.pk])).content.decode()
    assert "${customer.name}" in page and "主题" in page


def test_the_sms_log_masks_recipients_per_the_reader_and_keeps_to_the_scope(client, roles):
    seller = make_user("log_seller", roles["salesperson"], language="zh-hans")
    role = seller.roles.first()
    role.permissions = sorted(set(role.permissions) | {"system.sms_log.view"})
    role.save()
    mine = customer_services.customer_create(actor=None, data={"name": "我的", "mobile": "13800138000"})
    others = customer_services.customer_create(actor=None, data={"name": "别人的", "mobile": "13900139000"})
    from shoal.customers.models import CustomerGroup, CustomerGroupMembership

    group = CustomerGroup.objects.create(name="组")
    CustomerGroupMembership.objects.create(customer=mine, group=group, salesperson=seller)
    for customer in (mine, others):
        MessageLog.objects.create(channel="sms", recipient=customer.mobile, customer_id=customer.pk, content="验证码",
                                  status="failed", error="网关拒绝")
    client.force_login(seller)
    html = client.get(reverse("admin:automation_sms_log")).content.decode()
    assert "短信发送记录" in html and "138****8000" in html and "13800138000" not in html
    assert "139****9000" not in html  # outside the salesperson's scope
    assert "网关拒绝" in html and "失败" in html
    reader = make_user("log_reader", roles["admin"], language="zh-hans", masking_policy="none")
    client.force_login(reader)
    html = client.get(reverse("admin:automation_sms_log")).content.decode()
    assert "13800138000" in html and "13900139000" in html
    assert len(re.findall(r"data-entry=", html)) == 2


def test_the_email_log_masks_addresses(client, admin):
    MessageLog.objects.create(channel="email", recipient="zhang@example.com", subject="感谢信", status="sent")
    MessageLog.objects.create(channel="sms", recipient="13800138000", status="sent")
    html = client.get(reverse("admin:automation_email_log")).content.decode()
    assert "邮件发送日志" in html and "z***@example.com" in html and "zhang@example.com" not in html
    assert "138****8000" not in html  # the SMS entry is on the other log
    assert "已发送" in html


def test_the_secret_page_needs_the_processor_permissions(client, roles):
    from shoal.accounts.models import Role

    processor, secret = services.processor_create(actor=None, data={"name": "钩子", "url": "https://example.com/h"})
    url = reverse("admin:automation_processor_secret", args=[processor.pk])
    client.force_login(make_user("nobody", None))
    assert client.get(url).status_code == 403 and client.post(url).status_code == 403
    viewer = Role.objects.create(name="只读", code="proc_view", permissions=["marketing.processors.view"])
    client.force_login(make_user("viewer", viewer))
    assert client.get(url).status_code == 302  # nothing waiting for this session: the edit page
    assert client.post(url).status_code == 403  # renewing needs the edit permission
    processor.refresh_from_db()
    assert processor.secret == secret
