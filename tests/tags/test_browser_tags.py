"""Real browser: create an auto tag with a rule through the tag pages, preview it, refresh it (progress bar, then
the result) and see its customer count."""

import pytest

from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.tags.models import Tag, TagCategory, Tagging
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def four_customers():
    for i, city in enumerate(["深圳", "广州", "北京", "深圳"]):
        customer_services.customer_create(actor=SYSTEM, data={"name": f"客户{i}", "mobile": f"1380013800{i}", "city": city})


@pytest.mark.django_db(transaction=True)
def test_create_an_auto_tag_with_a_rule_preview_refresh_and_see_the_count(live_server, browser_page, four_customers):
    make_user("tagadmin", is_superuser=True)
    page = browser_page
    browser_login(page, live_server.url, "tagadmin")

    # a category, then an auto tag in it
    page.goto(live_server.url + "/tags/")
    page.click("#add-category")
    page.fill("input[name=name]", "地区")
    page.click("#save")
    page.wait_for_selector("#add-tag")
    category = TagCategory.objects.get(name="地区")
    page.click("#add-tag")
    page.fill("input[name=name]", "深圳客户")
    assert page.input_value("select[name=category]") == str(category.pk)
    page.select_option("select[name=kind]", "auto")
    page.fill("input[name=score]", "5")
    page.click("#save")

    # the rule editor: the query builder's rows
    page.wait_for_selector("#rule-form #condition-rows tbody tr")
    first = "#condition-rows tbody tr >> nth=0"
    page.select_option(f"{first} >> select.row-field", "city")
    page.select_option(f"{first} >> select.row-op", "eq")
    page.fill(f"{first} >> input.row-value", "深圳")
    page.click("#preview-rule")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '2'")
    assert page.locator("#preview-sample tbody tr").count() == 2
    assert "客户0" in page.inner_text("#preview-sample")
    assert "138****" in page.inner_text("#preview-sample")  # masked as in lists
    page.click("#save-rule")
    page.wait_for_selector("#rule-list tr[data-rule]")
    tag = Tag.objects.get(name="深圳客户")
    assert tag.rules.get().query == {"field": "city", "op": "eq", "value": "深圳"}
    assert page.inner_text("#tag-count") == "0"

    # refresh now: the page reloads with the result and the new count
    page.click(f"button[data-refresh='/tags/{tag.pk}/refresh/']")
    page.wait_for_selector("#refresh-result:has-text('2')")
    assert "新打 2 个" in page.inner_text("#refresh-result") or "2 tagged" in page.inner_text("#refresh-result")
    assert page.inner_text("#tag-count") == "2"
    assert Tagging.objects.filter(tag=tag).count() == 2

    # the tag page shows the count too
    page.goto(live_server.url + f"/tags/?category={category.pk}")
    assert page.inner_text(f"#tag-list tr[data-tag='{tag.pk}'] .tag-count") == "2"
