"""Real browser: build a condition on the advanced query page, preview, search, save it; SQL editor refuses bad SQL."""

import pytest

from shoal.segments.models import SavedQuery
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_build_preview_search_and_save_a_query(live_server, browser_page, four_customers):
    make_user("qadmin", is_superuser=True)
    page = browser_page
    browser_login(page, live_server.url, "qadmin")
    page.goto(live_server.url + "/query/")
    first, second = "#condition-rows tbody tr >> nth=0", "#condition-rows tbody tr >> nth=1"
    page.wait_for_selector(first)
    page.select_option(f"{first} >> select.row-field", "city")
    page.select_option(f"{first} >> select.row-op", "eq")
    page.fill(f"{first} >> input.row-value", "深圳")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '2'")
    page.click("#add-row")
    page.select_option(f"{second} >> select.row-field", "assets")
    page.select_option(f"{second} >> select.row-op", "gt")
    page.fill(f"{second} >> input.row-value", "1000")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '1'")
    page.click("#run-query")
    page.wait_for_selector("#query-results tbody tr")
    assert page.inner_text("#result-total") == "1"
    assert "客户0" in page.inner_text("#query-results")

    page.fill("#scheme-name", "深圳大客户")
    page.click("#save-scheme")
    page.wait_for_selector("#query-ok:has-text('')")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    saved = SavedQuery.objects.get(name="深圳大客户")
    assert saved.query == {"all": [{"field": "city", "op": "eq", "value": "深圳"},
                                   {"field": "assets", "op": "gt", "value": 1000}]}

    page.click("#tab-sql")
    page.fill("#sql-text", "1=1; DROP TABLE customers_customer")
    page.click("#validate-sql")
    page.wait_for_function("document.querySelector('#query-error').textContent.length > 0")
    page.fill("#sql-text", "assets >= 200000 AND city IN ('广州', '北京')")
    page.click("#validate-sql")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '2'")
