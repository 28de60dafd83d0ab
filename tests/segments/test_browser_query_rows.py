"""Real browser, the advanced query page (issue 8 §5): it opens with an empty condition row that
runs without an error, offers operators by use (equals first), reloads a saved query with its
parentheses where they were written, and shows results in TIME_ZONE with enum labels."""

import os
from datetime import UTC, datetime

import pytest
from django.utils import translation

from shoal.customers import services
from shoal.customers.models import Customer, CustomerStatus
from shoal.segments.models import SavedQuery
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")
ROW = "#condition-rows tbody tr >> nth={}"


def parens(page, n):
    row = ROW.format(n)
    return (page.locator(f"{row} >> td:nth-child(1) select").input_value(),
            page.locator(f"{row} >> td:nth-child(5) select").input_value())


@pytest.mark.django_db(transaction=True)
def test_empty_row_operator_order_and_saved_parentheses(live_server, browser_page, four_customers):
    Customer.objects.filter(name="客户0").update(created_at=datetime(2026, 11, 30, 22, 54, 34, tzinfo=UTC))
    make_user("qadmin", is_superuser=True)
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, live_server.url, "qadmin")
    page.goto(live_server.url + "/query/")
    page.wait_for_selector(ROW.format(0))

    # 1. one empty row; searching with it is searching everything, without an error
    assert page.locator("#condition-rows tbody tr").count() == 1
    assert page.locator(f"{ROW.format(0)} >> select.row-field").input_value() == ""
    assert page.is_visible("#no-condition")
    page.click("#run-query")
    page.wait_for_function("document.querySelector('#result-total').textContent === '4'")
    assert page.inner_text("#query-error") == ""

    # results: times in TIME_ZONE (Asia/Shanghai), the status as its label
    row0 = page.locator("#query-results tbody tr", has_text="客户0").inner_text()
    assert "2026-12-01 06:54:34" in row0, row0
    with translation.override("zh-hans"):
        assert str(CustomerStatus.ACTIVE.label) in row0 and "active" not in row0
    page.screenshot(path=os.path.join(SHOTS, "query-empty-row.png"), full_page=True)

    # 2. operators by use, equals first
    page.select_option(f"{ROW.format(0)} >> select.row-field", "city")
    ops = page.eval_on_selector_all(f"{ROW.format(0)} >> select.row-op option", "os => os.map(o => o.value)")
    assert ops[:4] == ["eq", "ne", "in", "not_in"] and ops[4] == "contains", ops
    assert page.locator(f"{ROW.format(0)} >> select.row-op").input_value() == "eq"

    # 3. (city = 深圳 AND assets > 1000) OR city = 北京 — the parentheses change nothing, yet the
    # saved query gives them back where they were written
    page.select_option(f"{ROW.format(0)} >> td:nth-child(1) select", "(")
    page.fill(f"{ROW.format(0)} >> input.row-value", "深圳")
    page.click("#add-row")
    page.select_option(f"{ROW.format(1)} >> select.row-field", "assets")
    page.select_option(f"{ROW.format(1)} >> select.row-op", "gt")
    page.fill(f"{ROW.format(1)} >> input.row-value", "1000")
    page.select_option(f"{ROW.format(1)} >> td:nth-child(5) select", ")")
    page.click("#add-row")
    page.select_option(f"{ROW.format(1)} >> td:nth-child(6) select", "or")  # shown once a row follows
    page.select_option(f"{ROW.format(2)} >> select.row-field", "city")
    page.fill(f"{ROW.format(2)} >> input.row-value", "北京")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '2'")
    page.fill("#scheme-name", "括号方案")
    page.click("#save-scheme")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    saved = SavedQuery.objects.get(name="括号方案")
    assert saved.rows[0]["lparen"] == "(" and saved.rows[1]["rparen"] == ")"

    page.goto(live_server.url + "/query/")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    page.select_option("#scheme-select", str(saved.pk))
    page.wait_for_function("document.querySelectorAll('#condition-rows tbody tr').length === 3")
    assert [parens(page, n) for n in range(3)] == [("(", ""), ("", ")"), ("", "")]
    assert page.locator(f"{ROW.format(1)} >> td:nth-child(6) select").input_value() == "or"
    assert page.locator(f"{ROW.format(2)} >> input.row-value").input_value() == "北京"
    page.wait_for_function("document.querySelector('#result-total').textContent === '2'")
    assert page.inner_text("#query-error") == ""
    page.screenshot(path=os.path.join(SHOTS, "query-saved-parentheses.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_half_written_rows_are_not_sent_for_conversion(live_server, browser_page):
    """Rows with open parentheses or no value yet are not converted (no 400s in the console on every
    edit); once complete they are, and the preview count shows."""
    services.customer_create(actor=None, data={"name": "客户甲", "mobile": "13800138000", "city": "深圳"})
    make_user("qrows", is_superuser=True)
    page = browser_page
    conversions, console_errors = [], []
    page.on("response", lambda r: conversions.append(r.status) if r.url.endswith("/api/v1/segments/from-rows") else None)
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    browser_login(page, live_server.url, "qrows")
    page.goto(live_server.url + "/query/")
    page.wait_for_selector(ROW.format(0))
    page.select_option(f"{ROW.format(0)} >> td:nth-child(1) select", "(")
    page.select_option(f"{ROW.format(0)} >> select.row-field", "city")
    page.fill(f"{ROW.format(0)} >> input.row-value", "深圳")  # complete, but the '(' is still open
    page.wait_for_timeout(1000)
    page.click("#add-row")
    page.select_option(f"{ROW.format(0)} >> td:nth-child(6) select", "or")
    page.select_option(f"{ROW.format(1)} >> select.row-field", "city")
    page.select_option(f"{ROW.format(1)} >> select.row-op", "in")
    page.fill(f"{ROW.format(1)} >> input.row-value", " , ")  # a list with no value yet
    page.wait_for_timeout(1000)
    assert conversions == [], conversions
    page.fill(f"{ROW.format(1)} >> input.row-value", "广州")
    page.select_option(f"{ROW.format(1)} >> td:nth-child(5) select", ")")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '1'")
    assert conversions and set(conversions) == {200}, conversions
    assert page.inner_text("#query-error") == ""
    assert not [e for e in console_errors if "400" in e], console_errors
