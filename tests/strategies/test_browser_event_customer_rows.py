"""Real browser, zh-hans: a strategy's customer conditions use the condition rows' event fields: a strategy saved
with "last event 登录 within the last 7 days" re-opens in the editor with that row (the event type by its name),
a change made there is saved, and the review page says the condition in words."""

import pytest

from shoal.events.models import EventType
from shoal.strategies.models import Strategy
from shoal.strategies.services import strategies as services
from tests.conftest import browser_login, make_user
from tests.strategies.conftest import FIELDS, strategy_data

pytestmark = pytest.mark.browser
ROW = "#customer-rows tbody tr >> nth=0"


@pytest.mark.django_db(transaction=True)
def test_event_rows_in_customer_conditions_reopen_and_save(live_server, browser_page, roles):
    EventType.objects.create(name="银行代扣还款", code="payment", fields=FIELDS)
    EventType.objects.create(name="登录", code="login")
    editor = make_user("xiaodan", roles["admin"], name="李小丹")
    rows = [{"lparen": "", "field": "last_event", "event": "login", "op": "within_last_days", "value": 7,
             "rparen": "", "logic": "and"}]
    strategy = services.strategy_create(actor=editor, data=strategy_data(customer_conditions=None,
                                                                         customer_condition_rows=rows))
    assert strategy.customer_conditions == {"last_event": {"event": "login", "op": "within_last_days", "value": 7}}

    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    browser_login(page, live_server.url, "xiaodan")
    page.goto(live_server.url + f"/strategies/{strategy.pk}/")
    page.wait_for_function("document.querySelector('#customer-rows select.row-arg') && "
                           "document.querySelector('#customer-rows select.row-arg').value === 'login'")
    assert page.locator(f"{ROW} >> select.row-field").input_value() == "last_event"
    assert page.eval_on_selector(f"{ROW} >> select.row-arg", "s => s.options[s.selectedIndex].textContent") == "登录"
    assert page.locator(f"{ROW} >> select.row-op").input_value() == "within_last_days"
    assert page.locator(f"{ROW} >> input.row-value").input_value() == "7"

    page.fill(f"{ROW} >> input.row-value", "30")
    page.click("#save-strategy")
    page.wait_for_function("document.querySelector('#strategy-ok').innerText || "
                           "document.querySelector('#strategy-error').innerText")
    assert page.locator("#strategy-error").inner_text() == ""
    strategy = Strategy.objects.get()
    assert strategy.customer_conditions == {"last_event": {"event": "login", "op": "within_last_days", "value": 30}}
    assert strategy.customer_condition_rows[0]["event"] == "login"

    page.goto(live_server.url + "/strategies/review/")
    assert "最近事件时间（登录）" in page.inner_text(f".review-item[data-strategy='{strategy.pk}']")
