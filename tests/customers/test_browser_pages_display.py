"""Real browser at 1440 wide, zh-hans and English: the customer list keeps each row on one line
(long names cut with an ellipsis, whole in the tooltip), money reads 919,007.50, times read in
TIME_ZONE, enum values as labels; screenshots of the list, detail, edit and query pages."""

import os

import pytest

from shoal.core import parameters
from shoal.customers import services
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")
LONG_NAME = "深圳市南山区科技园某某某信息技术有限公司采购部张三丰 Zhang Sanfeng (Procurement)"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_list_detail_edit_and_query_pages_read_well(live_server, browser_page, roles, language):
    # the standard enum items come from a data migration; a transactional test before this one flushed them
    from shoal.customers.models import EnumGroup, EnumItem
    for code, items in {"customer_source": [("ads", "广告投放"), ("agent", "代理推荐")],
                        "customer_type": [("deal", "成交客户")]}.items():
        group = EnumGroup.objects.get_or_create(code=code, defaults={"name": code})[0]
        for item, label in items:
            EnumItem.objects.get_or_create(group=group, code=item, defaults={"label": label})
    make_user("boss", roles["admin"], masking_policy="none")
    parameters.set_value("MASKING_ENABLED", False)
    services.custom_field_create(actor=None, key="assets", label="资产" if language == "zh-hans" else "Assets",
                                 type="money", show_in_list=True, show_in_filter=True)
    services.custom_field_create(actor=None, key="seen_at", label="最近访问" if language == "zh-hans" else "Last seen",
                                 type="datetime", show_in_list=True)
    customer = services.customer_create(actor=None, data={
        "name": LONG_NAME, "mobile": "13800138000", "email": "zhang.sanfeng.procurement@example.com",
        "source": "ads", "customer_type": "deal", "registered_at": "2026-01-02T08:20:05+08:00",
        "attributes": {"assets": 919007.5, "seen_at": "2026-11-30T22:54:34Z"}})
    for i in range(3):
        services.customer_create(actor=None, data={"name": f"客户{i}", "mobile": f"1390013900{i}", "source": "agent",
                                                   "attributes": {"assets": 1234.5 * (i + 1)}})
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    browser_login(page, live_server.url, "boss")

    # the list: one line a row, the long name cut, labels, money, local times
    page.goto(live_server.url + "/customers/customer/")
    row = page.locator("#result_list tbody tr", has_text="Zhang Sanfeng")
    text = row.inner_text()
    assert "919,007.50" in text and "2026-12-01 06:54:34" in text
    assert ("广告投放" in text and "成交客户" in text) and " ads" not in text
    name = row.locator("a[title]").first
    assert name.get_attribute("title") == LONG_NAME
    heights = page.eval_on_selector_all("#result_list tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) - min(heights) < 4, heights  # the long row is no taller than the others
    page.screenshot(path=os.path.join(SHOTS, f"list-{language}.png"), full_page=True)

    # the detail page
    page.goto(live_server.url + f"/customers/customer/{customer.pk}/detail/")
    page.wait_for_selector("#customer-detail")
    detail = page.inner_text("#customer-detail")
    assert "2026-12-01 06:54:34" in detail and "2026-01-02 08:20:05" in detail and "919,007.50" in detail
    assert "T22:54:34Z" not in detail
    page.screenshot(path=os.path.join(SHOTS, f"detail-{language}.png"), full_page=True)

    # the edit page: the source is a select of labels, the times keep their seconds
    page.goto(live_server.url + f"/customers/customer/{customer.pk}/change/")
    assert page.locator("select[name=source] option:checked").inner_text() == "广告投放"
    assert page.input_value("input[name=registered_at_1]") == "08:20:05"
    page.screenshot(path=os.path.join(SHOTS, f"edit-{language}.png"), full_page=True)

    # the query page: the empty row runs; results in local time with labels
    page.goto(live_server.url + "/query/")
    page.wait_for_selector("#condition-rows tbody tr")
    page.click("#run-query")
    page.wait_for_function("document.querySelector('#result-total').textContent === '4'")
    page.select_option("#condition-rows tbody tr >> select.row-field", "source")
    options = page.eval_on_selector_all("#condition-rows tbody tr select.row-value option",
                                        "os => os.map(o => o.textContent)")
    assert "广告投放" in options
    page.screenshot(path=os.path.join(SHOTS, f"query-{language}.png"), full_page=True)
