"""SMS and email from message templates: a real SMTP server (aiosmtpd), the log provider, the generic HTTP
gateway through the guarded client, and the logs."""

import email
import json
from email import policy

import pytest
from aiosmtpd.controller import Controller

from shoal.automation import runner, services
from shoal.automation.models import MessageLog, MessageStatus
from shoal.customers import services as customer_services


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    import socket

    with socket.socket() as s:  # a port nobody listens on (until someone binds it)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.SHOAL_SMTP_HOST = "127.0.0.1"
    settings.SHOAL_SMTP_PORT = controller.port
    settings.SHOAL_SMTP_FROM = "crm@shoal.test"
    settings.SHOAL_SMTP_TLS = ""
    yield inbox
    controller.stop()


@pytest.fixture
def customer(db):
    return customer_services.customer_create(actor=None, data={"name": "王五", "mobile": "13800138000",
                                                               "email": "wang@example.com"})


EVENT = {"code": "password_changed", "id": "e1", "data": {"code": "4321", "user_name": "王五<b>"}}


def test_an_email_goes_through_a_real_smtp_server(smtp, customer):
    services.template_create(actor=None, data={
        "channel": "email", "name": "感谢信", "code": "thanks", "subject": "感谢 ${user_name}",
        "content": "尊敬的${customer.name}，验证码 ${code}", "html": "<p>你好 ${user_name}</p>"})
    result = runner.processor_run("email", customer_id=customer.pk, event=EVENT, params={"template": "thanks"},
                                  delivery_id="m-1")
    assert result.status == "succeeded", result
    (sender, recipients, message), = smtp.messages
    assert sender == "crm@shoal.test" and recipients == ["wang@example.com"]
    assert message["Subject"] == "感谢 王五<b>"
    assert message.get_body(("plain",)).get_content().strip() == "尊敬的王五，验证码 4321"
    assert message.get_body(("html",)).get_content().strip() == "<p>你好 王五&lt;b&gt;</p>"  # values escaped in HTML
    log = MessageLog.objects.get(key="m-1")
    assert log.status == MessageStatus.SENT and log.recipient == "wang@example.com" and log.provider == "smtp"
    again = runner.processor_run("email", customer_id=customer.pk, event=EVENT, params={"template": "thanks"},
                                 delivery_id="m-1")
    assert again.status == "succeeded" and len(smtp.messages) == 1


def test_an_unreachable_smtp_server_is_logged_as_failed(settings, customer):
    settings.SHOAL_SMTP_HOST, settings.SHOAL_SMTP_PORT, settings.SHOAL_SMTP_TIMEOUT = "127.0.0.1", _free_port(), 2
    services.template_create(actor=None, data={"channel": "email", "name": "t", "code": "t", "subject": "s",
                                               "content": "c"})
    result = runner.processor_run("email", customer_id=customer.pk, event=EVENT, params={"template": "t"},
                                  delivery_id="m-2")
    assert result.status == "failed" and "Connection" in result.error
    assert MessageLog.objects.get(key="m-2").status == MessageStatus.FAILED


def test_without_smtp_host_an_email_is_only_logged(settings, customer):
    settings.SHOAL_SMTP_HOST = ""
    services.template_create(actor=None, data={"channel": "email", "name": "t", "code": "t", "subject": "s",
                                               "content": "c"})
    result = runner.processor_run("email", customer_id=customer.pk, params={"template": "t", "to": "x@example.com"})
    assert result.status == "succeeded"
    log = MessageLog.objects.get()
    assert log.status == MessageStatus.LOGGED and log.recipient == "x@example.com"


def test_an_sms_with_the_log_provider_is_logged(settings, customer):
    settings.SHOAL_SMS_PROVIDER = "log"
    services.template_create(actor=None, data={"channel": "sms", "name": "验证码", "code": "0001",
                                               "content": "您正在进行身份验证，验证码${code}，请勿告知他人！"})
    result = runner.processor_run("sms", customer_id=customer.pk, event=EVENT, params={"template": "0001"},
                                  delivery_id="s-1")
    assert result.status == "succeeded"
    log = MessageLog.objects.get(key="s-1")
    assert log.status == MessageStatus.LOGGED and log.recipient == "+8613800138000"
    assert log.content == "您正在进行身份验证，验证码4321，请勿告知他人！"


def test_an_sms_through_the_http_gateway(settings, allow_loopback, receiver, customer):
    settings.SHOAL_SMS_PROVIDER = "http"
    settings.SHOAL_SMS_HTTP_URL = receiver.url + "/sms"
    settings.SHOAL_SMS_HTTP_AUTH = "Bearer gw-token"
    receiver.answers = [(200, {"Content-Type": "application/json"}, b'{"id": "gw-42"}')]
    services.template_create(actor=None, data={"channel": "sms", "name": "码", "code": "0002",
                                               "provider_template": "SMS_117610140", "content": "验证码${code}"})
    result = runner.processor_run("sms", customer_id=customer.pk, event=EVENT, delivery_id="s-2",
                                  params={"template": "0002", "mobile": "13900139000", "variables": {"code": "9-${code}"}})
    assert result.status == "succeeded" and result.response_code == 200
    request = receiver.requests[0]
    assert request["headers"]["authorization"] == "Bearer gw-token"
    assert json.loads(request["body"]) == {"mobile": "13900139000", "content": "验证码9-4321",
                                           "template": "SMS_117610140", "variables": {"code": "9-4321"}}
    assert MessageLog.objects.get(key="s-2").provider_message_id == "gw-42"


def test_an_sms_gateway_error_and_a_missing_template_are_logged(settings, allow_loopback, receiver, customer):
    settings.SHOAL_SMS_PROVIDER = "http"
    settings.SHOAL_SMS_HTTP_URL = receiver.url + "/sms"
    receiver.answers = [(500, {}, b"quota exceeded")]
    services.template_create(actor=None, data={"channel": "sms", "name": "码", "code": "0003", "content": "x"})
    failed = runner.processor_run("sms", customer_id=customer.pk, params={"template": "0003"}, delivery_id="s-3")
    assert failed.status == "failed" and "quota exceeded" in failed.error and failed.response_code == 500
    missing = runner.processor_run("sms", customer_id=customer.pk, params={"template": "nope"}, delivery_id="s-4")
    assert missing.status == "failed" and "nope" in missing.error
    assert runner.processor_calls(["s-4"])["s-4"].status == "failed"  # recorded on the call


def test_a_disabled_template_sends_nothing(customer):
    template = services.template_create(actor=None, data={"channel": "sms", "name": "码", "code": "0005", "content": "x"})
    services.template_update(actor=None, template=template, data={"enabled": False})
    result = runner.processor_run("sms", customer_id=customer.pk, params={"template": "0005"})
    assert result.status == "failed" and "0005" in result.error
