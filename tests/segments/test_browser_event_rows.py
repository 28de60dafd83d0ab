"""Real browser, the condition rows' event fields: on the advanced query page a user builds "event 购买 count
greater than 1" (the event type picked by name among the enabled ones), sees exactly the customer who bought
twice, saves the query and re-opens it with the condition as written; on an auto tag's rule page a rule
"last event 登录 within the last 7 days" is saved, described in words and re-opened with its event type; in
zh-hans and in English (screenshots in SHOAL_DATA_DIR)."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.accounts import services as accounts
from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.events.services import types
from shoal.events.services.ingest import Caller, ingest
from shoal.events.services.processing import process_pending
from shoal.segments.models import SavedQuery
from shoal.tags.models import Tag, TagCategory, TagRule
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")
ROW = "#condition-rows tbody tr >> nth={}"
COUNT = "document.querySelector('#preview-count strong') && document.querySelector('#preview-count strong')" \
        ".textContent === '{}' && getComputedStyle(document.querySelector('#preview-count')).display !== 'none'"
WORDS = {
    "zh-hans": {"group": "事件", "fields": ["事件次数", "最近事件时间", "首次事件时间"], "pick": "— 事件类型 —",
                "rule": "最近事件时间（登录）"},
    "en": {"group": "Events", "fields": ["Event count", "Last event time", "First event time"],
           "pick": "— Event type —", "rule": "Last event time (登录)"},
}


@pytest.fixture
def shoppers(db):
    """张三 bought twice, 李四 once and logged in; 王五 did nothing. Events sent through the ingestion service
    and processed as the worker does."""
    for name, uid in (("张三", "u1"), ("李四", "u2"), ("王五", "u3")):
        customer_services.customer_create(actor=None, data={"name": name, "ent_user_id": uid})
    types.event_type_create(actor=SYSTEM, data={"name": "购买", "code": "purchase"})
    types.event_type_create(actor=SYSTEM, data={"name": "登录", "code": "login"})
    retired = types.event_type_create(actor=SYSTEM, data={"name": "旧活动", "code": "old_campaign"})
    types.event_types_set_enabled(actor=SYSTEM, ids=[retired.pk], enabled=False)
    app, _ = accounts.application_create(actor=SYSTEM, name="商城")
    sent = [("purchase", "u1"), ("purchase", "u1"), ("purchase", "u2"), ("login", "u2")]
    results = ingest(caller=Caller(application=app), items=[
        {"event": code, "id": f"e{i}", "customer": {"ent_user_id": uid}, "data": {}}
        for i, (code, uid) in enumerate(sent)])
    assert [r["status"] for r in results] == ["accepted"] * 4, results
    assert process_pending()["processed"] == 4


def _field_options(page, row):
    return page.eval_on_selector_all(
        f"{row} >> select.row-field optgroup",
        "groups => groups.map(g => [g.label, [...g.querySelectorAll('option')].map(o => o.textContent)])")


def _selected_text(page, selector):
    return page.eval_on_selector(selector, "s => s.options[s.selectedIndex].textContent")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_event_count_on_the_query_page_is_saved_and_reopened(live_server, browser_page, shoppers, language):
    words = WORDS[language]
    make_user("qevents", is_superuser=True, language=language)
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, live_server.url, "qevents")
    page.goto(live_server.url + "/query/")
    row = ROW.format(0)
    page.wait_for_selector(f"{row} >> select.row-field optgroup", state="attached")

    # the event fields under their heading; the event type picked by name among the enabled types
    assert _field_options(page, row) == [[words["group"], words["fields"]]]
    page.select_option(f"{row} >> select.row-field", "event_count")
    arg = f"{row} >> select.row-arg"
    assert page.eval_on_selector_all(f"{arg} option", "os => os.map(o => [o.value, o.textContent])") == [
        ["", words["pick"]], ["login", "登录"], ["purchase", "购买"]]
    assert page.eval_on_selector_all(f"{row} >> select.row-op option", "os => os.map(o => o.value)") == [
        "eq", "ne", "gt", "gte", "lt", "lte", "between"]
    page.select_option(arg, "purchase")
    page.select_option(f"{row} >> select.row-op", "gt")
    page.fill(f"{row} >> input.row-value", "1")
    page.wait_for_function(COUNT.format(1))
    page.click("#run-query")
    page.wait_for_function("document.querySelector('#result-total').textContent === '1'")
    names = page.eval_on_selector_all("#query-results tbody tr td:nth-child(2)", "cs => cs.map(c => c.textContent)")
    assert names == ["张三"]
    assert page.inner_text("#query-error") == ""
    page.screenshot(path=os.path.join(SHOTS, f"query-event-rows-{language}.png"), full_page=True)

    page.fill("#scheme-name", "多次购买")
    page.click("#save-scheme")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    saved = SavedQuery.objects.get(name="多次购买")
    assert saved.rows == [{"lparen": "", "field": "event_count", "event": "purchase", "op": "gt", "value": 1,
                           "rparen": "", "logic": "and"}]
    assert saved.query == {"event_count": {"event": "purchase", "op": "gt", "value": 1}}

    # re-opened: the same row, the event type shown by its name, the same customer
    page.goto(live_server.url + "/query/")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    page.select_option("#scheme-select", str(saved.pk))
    page.wait_for_function("document.querySelector('#result-total') && "
                           "document.querySelector('#result-total').textContent === '1'")
    assert page.locator(f"{row} >> select.row-field").input_value() == "event_count"
    assert _selected_text(page, f"{row} >> select.row-field") == words["fields"][0]
    assert page.locator(arg).input_value() == "purchase"
    assert _selected_text(page, arg) == "购买"
    assert page.locator(f"{row} >> select.row-op").input_value() == "gt"
    assert page.locator(f"{row} >> input.row-value").input_value() == "1"
    page.wait_for_function(COUNT.format(1))
    assert page.inner_text("#query-error") == ""

    # another event field keeps the event type: first 购买 before tomorrow (local time) is both buyers
    page.select_option(f"{row} >> select.row-field", "first_event")
    assert page.locator(arg).input_value() == "purchase"
    assert page.eval_on_selector_all(f"{row} >> select.row-op option", "os => os.map(o => o.value)") == [
        "gt", "gte", "lt", "lte", "between", "within_last_days", "older_than_days", "is_empty", "is_not_empty"]
    page.select_option(f"{row} >> select.row-op", "lt")
    assert page.get_attribute(f"{row} >> input.row-value", "type") == "datetime-local"
    tomorrow = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill(f"{row} >> input.row-value", tomorrow)
    page.wait_for_function(COUNT.format(2))
    page.select_option(f"{row} >> select.row-op", "is_empty")  # never bought: 王五
    page.wait_for_function(COUNT.format(1))
    assert page.inner_text("#query-error") == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_last_event_in_an_auto_tag_rule_is_saved_and_reopened(live_server, browser_page, shoppers, language):
    words = WORDS[language]
    tag = Tag.objects.create(name="活跃", category=TagCategory.objects.create(name="行为"), kind="auto")
    make_user("qrule", is_superuser=True, language=language)
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, live_server.url, "qrule")
    page.goto(live_server.url + f"/tags/{tag.pk}/rules/")
    row = ROW.format(0)
    page.wait_for_selector(f"{row} >> select.row-field optgroup", state="attached")
    page.select_option(f"{row} >> select.row-field", "last_event")
    page.select_option(f"{row} >> select.row-arg", "login")
    page.select_option(f"{row} >> select.row-op", "within_last_days")
    page.fill(f"{row} >> input.row-value", "7")
    page.click("#preview-rule")
    page.wait_for_function(COUNT.format(1))
    assert page.inner_text("#preview-sample tbody").count("李四") == 1
    page.click("#save-rule")
    page.wait_for_load_state()
    rule = TagRule.objects.get(tag=tag)
    assert rule.rows[0]["field"] == "last_event" and rule.rows[0]["event"] == "login"
    assert rule.query == {"last_event": {"event": "login", "op": "within_last_days", "value": 7}}
    page.wait_for_selector(f"text={words['rule']}")
    page.screenshot(path=os.path.join(SHOTS, f"tag-rule-event-rows-{language}.png"), full_page=True)

    page.goto(live_server.url + f"/tags/{tag.pk}/rules/{rule.pk}/")
    page.wait_for_function("document.querySelector('#condition-rows tbody tr select.row-arg') && "
                           "document.querySelector('#condition-rows tbody tr select.row-arg').value === 'login'")
    assert page.locator(f"{row} >> select.row-field").input_value() == "last_event"
    assert _selected_text(page, f"{row} >> select.row-arg") == "登录"
    assert page.locator(f"{row} >> select.row-op").input_value() == "within_last_days"
    assert page.locator(f"{row} >> input.row-value").input_value() == "7"
