"""Real browser: create a custom field on its page, create a customer with a value for it on the
customer form, then see the value in the list (the field is shown in lists) and on the detail page."""

import os

import pytest

from shoal.core import parameters
from shoal.customers.models import Customer, CustomField
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")


@pytest.mark.django_db(transaction=True)
def test_custom_field_customer_list_and_detail(live_server, browser_page, roles):
    make_user("boss", roles["admin"], masking_policy="none")
    parameters.set_value("MASKING_ENABLED", False)
    page = browser_page
    browser_login(page, live_server.url, "boss")

    # 1. a custom field, shown in lists, through its settings page
    page.goto(live_server.url + "/customers/customfield/add/")
    page.fill("input[name=key]", "wechat_no")
    page.fill("input[name=label]", "WeChat number")
    page.select_option("select[name=type]", "text")
    page.check("input[name=show_in_list]", force=True)
    assert page.is_checked("input[name=show_in_form]")
    page.click("button[name=_save]")
    page.wait_for_url(live_server.url + "/customers/customfield/")
    field = CustomField.objects.get(key="wechat_no")
    assert field.show_in_list and field.show_in_form and field.label == "WeChat number"

    # 2. a customer with a value for it, through the customer form
    page.goto(live_server.url + "/customers/customer/add/")
    page.fill("input[name=name]", "Browser Customer")
    page.fill("input[name=mobile]", "138 0013 8000")
    page.fill("input[name=cf_wechat_no]", "wx_browser_42")
    page.click("button[name=_save]")
    page.wait_for_selector("#customer-detail")  # saved: the detail page follows
    customer = Customer.objects.get(name="Browser Customer")
    assert customer.mobile == "+8613800138000" and customer.attributes == {"wechat_no": "wx_browser_42"}

    # 3. the detail page shows it under "other info"
    other = page.locator('[data-custom-field="wechat_no"]')
    assert "WeChat number" in other.inner_text() and "wx_browser_42" in other.inner_text()
    page.screenshot(path=os.path.join(SHOTS, "customer-detail.png"), full_page=True)
    page.click("a[data-tab=timeline]")  # the tab's script runs after the click: wait for it (it raced under load)
    page.wait_for_selector("#tab-timeline", state="visible")
    page.wait_for_selector("#tab-other", state="hidden")
    assert page.locator("#tab-timeline").is_visible() and not page.locator("#tab-other").is_visible()

    # 4. the list shows it in its column; the name leads back to the detail page
    page.goto(live_server.url + "/customers/customer/")
    row = page.locator("#result_list tbody tr", has_text="Browser Customer")
    assert "wx_browser_42" in row.inner_text()
    assert "WeChat number" in page.locator("#result_list thead").inner_text()
    page.screenshot(path=os.path.join(SHOTS, "customer-list.png"), full_page=True)
    row.locator("a", has_text="Browser Customer").click()
    page.wait_for_selector("#customer-detail")
    assert f"/customers/customer/{customer.pk}/detail/" in page.url
