"""Real browser, zh-hans and English: an administrator registers a custom HTTP processor on 处理器注册中心 (the
signing secret shown once: a reload neither shows it again nor registers the processor twice), edits it and
finds it in the list; adds an SMS and an email template; opens the SMS and email logs (recipients masked, times
in Asia/Shanghai, statuses in words, a filter). No page answers 500, no script fails, and a zh-hans page shows
no English words but codes, addresses and technical names.

With SHOAL_SCREENSHOTS=<dir> the pages are also saved as PNG."""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shoal.automation.models import Channel, MessageLog, MessageStatus, MessageTemplate, Processor
from shoal.core.processors import builtin_processors
from shoal.customers.masking import mask_email, mask_phone
from shoal.customers.models import Customer
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("SHOAL_SCREENSHOTS")
MOBILE, EMAIL = "+8613800138000", "zhangsan@example.com"
# 2026-03-01 20:30 UTC is 2026-03-02 04:30 in Shanghai: a page showing UTC shows the wrong day
SENT_AT = datetime(2026, 3, 1, 20, 30, 5, tzinfo=UTC)
SHANGHAI = "2026-03-02 04:30:05"
CHINESE_DATA = ("张三", "还款提醒", "生日祝福", "祝您生日快乐", "生日快乐", "您好", "短信服务商出错")  # the English page shows them
# words a zh-hans page may show in Latin letters: protocols and formats, and the codes and data of the page
TECHNICAL = {"URL", "JSON", "HTML", "HTTP", "GET", "POST", "PUT", "PATCH", "DELETE", "SMTP", "Standard", "Webhooks",
             "webhook-id", "webhook-timestamp", "webhook-signature", "HMAC-SHA256", "base64", "v1", "whsec_", "id.timestamp.body",
             "https", "com", "example", "example.com"}


def _codes() -> set[str]:
    """The built-in processors' codes and parameter keys (identifiers the strategies use)."""
    out = set()
    for spec in builtin_processors():
        out |= {spec.code, *(spec.params.model_json_schema().get("properties") or {})}
    return out


def _latin_words(text: str, allowed: set[str]) -> set[str]:
    text = re.sub(r"\$\{[^}]*\}", "", text)  # placeholders are written as they are
    return {w for w in re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z]{2,}", text)
            if w not in allowed and not w.startswith("http_")}


@pytest.fixture
def logs(transactional_db):
    customer = Customer.objects.create(name="张三", mobile=MOBILE, email=EMAIL)
    sms = MessageTemplate.objects.create(channel=Channel.SMS, name="还款提醒", code="repay", content="您好${name}")
    mail = MessageTemplate.objects.create(channel=Channel.EMAIL, name="生日祝福", code="bday", subject="生日快乐",
                                          content="祝您生日快乐")
    MessageLog.objects.create(channel=Channel.SMS, recipient=MOBILE, customer_id=customer.pk, template=sms,
                              template_code="repay", content="您好张三", status=MessageStatus.SENT, created_at=SENT_AT)
    MessageLog.objects.create(channel=Channel.SMS, recipient=MOBILE, customer_id=customer.pk, template=sms,
                              template_code="repay", content="您好张三", status=MessageStatus.FAILED,
                              error="短信服务商出错：quota", created_at=SENT_AT)
    MessageLog.objects.create(channel=Channel.EMAIL, recipient=EMAIL, customer_id=customer.pk, template=mail,
                              template_code="bday", subject="生日快乐", status=MessageStatus.SENT, created_at=SENT_AT)
    return customer


def _watch(page) -> list[str]:
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    return problems


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"automation-{name}.png"), full_page=True)


def _reads_well(page, selector: str, zh: bool, allowed: set[str], data: str = "") -> None:
    """zh-hans: no Latin words but the allowed ones; English: no Chinese but the data's."""
    text = page.inner_text(selector).replace(data, "") if data else page.inner_text(selector)
    if zh:
        assert not _latin_words(text, allowed), (selector, _latin_words(text, allowed))
    else:
        assert not re.search(r"[\u4e00-\u9fff]", re.sub("|".join(CHINESE_DATA), "", text)), (selector, text)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_processors_templates_and_logs_in_the_browser(live_server, browser, roles, logs, language):
    zh = language == "zh-hans"
    user = make_user(f"auto_{language.replace('-', '_')}", roles["admin"], language=language)
    context = browser.new_context(locale="zh-CN" if zh else "en-US", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15000)
    problems = _watch(page)
    browser_login(page, live_server.url, user.username)
    name = "CRM 回调" if zh else "CRM hook"
    allowed = TECHNICAL | _codes() | {"CRM", "hook", "amount", "repay", "bday", "quota", "zhangsan", "ACME", "VIP",
                                      "order_no", "crm", "hooks"}

    # the registry, from the sidebar: built-ins by code, then a custom processor registered on the page
    page.click("a[href='/automation/processors/']")
    page.wait_for_selector("#processors-page")
    assert ("处理器注册中心" if zh else "Processor registry") in page.inner_text("h1")
    assert page.locator("#processor-list tr[data-code='add_tag']").count() == 1
    _reads_well(page, "#processors-page", zh, allowed)
    page.click("#add-processor")
    page.wait_for_selector("#processor-form")
    _reads_well(page, "#processor-form-page", zh, allowed)
    page.fill("input[name=name]", name)
    page.fill("input[name=url]", "https://crm.example.com/hooks/shoal")
    page.locator("input[name=param_name]").first.fill("order_no")
    page.locator("input[name=param_value]").first.fill("${order_no}")
    page.locator("input[name=header_name]").first.fill("X-Source")
    page.locator("input[name=header_value]").first.fill("shoal")
    page.fill("textarea[name=body]", '{"amount": "${amount}", "who": "${customer.name}"}')
    page.click("#save")
    page.wait_for_selector("#processor-secret-page")
    processor = Processor.objects.get()
    secret = page.inner_text("#secret").strip()
    assert secret.startswith("whsec_") and secret == processor.secret
    assert ("只显示这一次" if zh else "shown only this once") in page.inner_text("#processor-secret-page")
    _reads_well(page, "#processor-secret-page", zh, allowed, data=secret)
    _shot(page, f"{language}-secret")
    page.reload()  # the secret is not shown again, and nothing is registered twice
    page.wait_for_selector("#processor-form-page")
    assert secret not in page.content()
    assert ("只显示一次" if zh else "shown only once") in page.inner_text("body")
    assert Processor.objects.count() == 1
    assert (processor.params, processor.headers, processor.body) == (
        {"order_no": "${order_no}"}, {"X-Source": "shoal"}, {"amount": "${amount}", "who": "${customer.name}"})

    # edit it: a new name and GET; the list shows the change
    page.fill("input[name=name]", name + " VIP")
    page.select_option("select[name=method]", "GET")
    page.click("#save")
    page.wait_for_selector("#processors-page")
    row = page.locator(f"#processor-list tr[data-processor='{processor.pk}']")
    assert name + " VIP" in row.inner_text() and "GET" in row.inner_text()
    assert "https://crm.example.com/hooks/shoal" in row.inner_text()
    processor.refresh_from_db()
    assert (processor.name, processor.method, processor.secret) == (name + " VIP", "GET", secret)
    _shot(page, f"{language}-processors")

    # message templates: an SMS one and an email one, each in its tab
    page.click("a[href='/automation/templates/']")
    page.wait_for_selector("#templates-page")
    page.click("#add-template")
    page.fill("input[name=name]", "验证码" if zh else "Code")
    page.fill("input[name=code]", "otp")
    page.fill("textarea[name=content]", "验证码${code}" if zh else "Your code is ${code}")
    page.click("#template-form #save")
    page.wait_for_selector("#template-list")
    assert "otp" in page.inner_text("#template-list")
    page.click("#channel-tabs a[href='?channel=email']")
    page.wait_for_selector("#template-list")
    assert "bday" in page.inner_text("#template-list") and "otp" not in page.inner_text("#template-list")
    _reads_well(page, "#templates-page", zh, allowed | {"otp", "code"})
    assert MessageTemplate.objects.filter(channel=Channel.SMS, code="otp").exists()

    # the SMS log: masked recipients, Shanghai times, statuses in words; filtered by status
    page.click("a[href='/automation/sms-log/']")
    page.wait_for_selector("#message-log-page[data-channel='sms']")
    table = page.inner_text("#log-table")
    assert MOBILE not in table and mask_phone(MOBILE) in table
    assert SHANGHAI in table and "2026-03-01" not in table
    statuses = page.locator("#log-table td.status").all_inner_texts()
    assert sorted(statuses) == sorted(["已发送", "失败"] if zh else ["Sent", "Failed"])
    _reads_well(page, "#message-log-page", zh, allowed)
    page.select_option("select[name=status]", "failed")
    page.click("#log-filter button[type=submit]")
    page.wait_for_url(re.compile(r".*status=failed.*"))
    assert page.locator("#log-table tr[data-entry]").count() == 1
    assert ("失败" if zh else "Failed") in page.inner_text("#log-table")
    _shot(page, f"{language}-sms-log")

    # the email log
    page.click("a[href='/automation/email-log/']")
    page.wait_for_selector("#message-log-page[data-channel='email']")
    table = page.inner_text("#log-table")
    assert EMAIL not in table and mask_email(EMAIL) in table and SHANGHAI in table
    assert "生日祝福" in table and "生日快乐" in table
    _reads_well(page, "#message-log-page", zh, allowed)
    _shot(page, f"{language}-email-log")
    assert not problems, problems
    context.close()
