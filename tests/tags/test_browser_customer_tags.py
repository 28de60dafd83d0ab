"""Real browser: on a customer's detail page add a manual tag and remove it again (the auto tag stays, the
quality score follows); on the list, the Tags column and the batch action "Add tag"."""

import os

import pytest

from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.tags import services
from shoal.tags.models import TagCategory, Tagging, TagHistory
from shoal.tags.refresh import refresh
from tests.conftest import browser_login, make_user

from .conftest import assert_scores_are_sums

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")


def tags_of(customer):
    return set(Tagging.objects.filter(customer=customer).values_list("tag_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_add_and_remove_a_tag_on_the_detail_page_and_tag_a_selection(live_server, browser_page, roles):
    make_user("boss", roles["admin"], masking_policy="none")
    parameters.set_value("MASKING_ENABLED", False)
    category = TagCategory.objects.create(name="行为")
    manual = services.tag_create(actor=SYSTEM, data={"name": "靠谱", "category_id": category.pk, "kind": "manual",
                                                     "score": 5})
    auto = services.tag_create(actor=SYSTEM, data={"name": "深圳客户", "category_id": category.pk, "kind": "auto",
                                                   "score": 3})
    services.rule_create(actor=SYSTEM, tag=auto, data={"query": {"field": "city", "op": "eq", "value": "深圳"}})
    customer = customer_services.customer_create(actor=SYSTEM, data={"name": "浏览器客户", "mobile": "13800138000",
                                                                     "city": "深圳"})
    other = customer_services.customer_create(actor=SYSTEM, data={"name": "另一位", "mobile": "13900139000"})
    refresh()
    page = browser_page
    browser_login(page, live_server.url, "boss")

    # the detail page: the auto tag as a chip without ×, the score 3
    page.goto(f"{live_server.url}/customers/customer/{customer.pk}/detail/")
    panel = page.locator("#customer-tags")
    assert panel.locator(f'[data-tag="{auto.pk}"][data-kind="auto"]').is_visible()
    assert panel.locator(f'[data-remove-tag="{auto.pk}"]').count() == 0
    assert page.locator("#quality-score").get_attribute("data-score") == "3"

    # add the manual tag
    page.select_option("#tag-add select[name=tag]", str(manual.pk))
    page.click("#tag-add button[type=submit]")
    page.wait_for_selector(f'#customer-tags [data-tag="{manual.pk}"]')
    assert page.locator("#quality-score").get_attribute("data-score") == "8"
    assert tags_of(customer) == {auto.pk, manual.pk}
    page.screenshot(path=os.path.join(SHOTS, "customer-detail-tags.png"), full_page=True)

    # and remove it with its ×
    page.click(f'[data-remove-tag="{manual.pk}"]')
    page.wait_for_selector(f'#customer-tags [data-tag="{manual.pk}"]', state="detached")
    assert page.locator("#quality-score").get_attribute("data-score") == "3"
    assert tags_of(customer) == {auto.pk}
    assert list(TagHistory.objects.filter(tag=manual).order_by("id").values_list("action", flat=True)) == [
        "add", "remove"]

    # the list: the Tags column, then "Add tag" on a selection of both customers
    page.goto(f"{live_server.url}/customers/customer/")
    row = page.locator("#result_list tbody tr", has_text="浏览器客户")
    assert row.locator(f'[data-tag="{auto.pk}"]').is_visible()
    page.check("#result_list thead input[type=checkbox]", force=True)  # select the page
    page.select_option("select[name=action]", "tags_add")
    page.click("button[name=index]")
    page.wait_for_selector("#batch-tag")
    page.select_option("#batch-tag-select", str(manual.pk))
    page.click("#batch-tag button[name=apply]")
    page.wait_for_selector("#result_list")
    assert page.locator(f'#result_list [data-tag="{manual.pk}"]').count() == 2
    assert manual.pk in tags_of(customer) and manual.pk in tags_of(other)
    page.screenshot(path=os.path.join(SHOTS, "customer-list-tags.png"), full_page=True)
    assert_scores_are_sums()
