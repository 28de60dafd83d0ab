"""Real browser, the advanced query page's tag pickers: include tags (any of) and exclude tags (none of)
list the tags the user may use by category (their own personal tags marked, nobody else's), narrow the
preview and the search, are saved with the query's rows and come back when it is reloaded; in
zh-hans and in English (screenshots in SHOAL_DATA_DIR)."""

import os

import pytest

from shoal.customers.models import Customer
from shoal.segments.models import SavedQuery
from shoal.tags.models import Tag, TagCategory, Tagging
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")
COUNT = "document.querySelector('#preview-count strong') && document.querySelector('#preview-count strong')" \
        ".textContent === '{}' && getComputedStyle(document.querySelector('#preview-count')).display !== 'none'"


def _tags(user, other):
    value = TagCategory.objects.create(name="价值", order=1)
    region = TagCategory.objects.create(name="地区", order=2)
    south = TagCategory.objects.create(name="华南", parent=region)
    vip = Tag.objects.create(name="高价值", category=value)
    cold = Tag.objects.create(name="沉睡", category=value)
    gz = Tag.objects.create(name="广深", category=south)
    mine = Tag.objects.create(name="我的关注", category=value, kind="personal", owner=user)
    Tag.objects.create(name="别人的", category=value, kind="personal", owner=other)
    by_name = {c.name: c for c in Customer.objects.all()}
    for tag, names in ((vip, ["客户0", "客户1", "客户2"]), (cold, ["客户1"]), (gz, ["客户0", "客户1", "客户3"]),
                       (mine, ["客户2"])):
        for name in names:
            Tagging.objects.create(tag=tag, customer=by_name[name], source="user")
    return {"vip": vip, "cold": cold, "gz": gz, "mine": mine}


def _options(page, kind):
    return page.eval_on_selector_all(
        f"#picker-{kind} select.picker-add optgroup",
        "groups => groups.map(g => [g.label, [...g.querySelectorAll('option')].map(o => o.textContent)])")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_tag_pickers(live_server, browser_page, four_customers, language):
    user = make_user("qtags", is_superuser=True, language=language)
    tags = _tags(user, make_user("someone"))
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, live_server.url, "qtags")
    page.goto(live_server.url + "/query/")
    page.wait_for_selector("#picker-tags_any select.picker-add optgroup", state="attached")

    personal = "我的关注（个人）" if language == "zh-hans" else "我的关注 (personal)"
    assert page.inner_text("#picker-tags_any > span.font-medium") == (
        "包含标签（任一）" if language == "zh-hans" else "Include tags (any of)")
    assert page.inner_text("#picker-tags_none > span.font-medium") == (
        "排除标签（均不含）" if language == "zh-hans" else "Exclude tags (none of)")
    # by category (parents first, display order), names in code point order; someone else's personal tag absent
    assert _options(page, "tags_any") == [["价值", [personal, "沉睡", "高价值"]],
                                          ["地区 / 华南", ["广深"]]]

    # include 高价值 or 我的关注 (客户0, 1, 2), exclude 沉睡 (客户1): 客户0 and 客户2
    page.select_option("#picker-tags_any select.picker-add", str(tags["vip"].pk))
    page.wait_for_function(COUNT.format(3))
    page.select_option("#picker-tags_none select.picker-add", str(tags["cold"].pk))
    page.wait_for_function(COUNT.format(2))
    page.select_option("#picker-tags_any select.picker-add", str(tags["mine"].pk))
    page.wait_for_function(COUNT.format(2))
    assert page.inner_text(f"#picker-tags_any .picker-chip[data-id='{tags['mine'].pk}'] > span") == personal
    # a field condition as well: city 深圳 (客户0, 客户3) → 客户0
    first = "#condition-rows tbody tr >> nth=0"
    page.select_option(f"{first} >> select.row-field", "city")
    page.select_option(f"{first} >> select.row-op", "eq")
    page.fill(f"{first} >> input.row-value", "深圳")
    page.wait_for_function(COUNT.format(1))
    page.click("#run-query")
    page.wait_for_function("document.querySelector('#result-total').textContent === '1'")
    assert "客户0" in page.inner_text("#query-results")
    page.screenshot(path=os.path.join(SHOTS, f"query-tag-pickers-{language}.png"), full_page=True)

    page.fill("#scheme-name", "标签组合")
    page.click("#save-scheme")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    saved = SavedQuery.objects.get(name="标签组合")
    picks = [{"tags_any": [tags["vip"].pk, tags["mine"].pk]}, {"tags_none": [tags["cold"].pk]}]
    assert saved.rows[1:] == picks
    assert saved.query == {"all": [{"field": "city", "op": "eq", "value": "深圳"}, *picks]}

    # removing a chip widens the preview; reloading the saved query brings the pickers back
    page.click(f"#picker-tags_none .picker-chip[data-id='{tags['cold'].pk}'] button")
    page.wait_for_function(COUNT.format(1))
    page.goto(live_server.url + "/query/")
    page.wait_for_function("document.querySelector('#scheme-select').options.length === 2")
    page.select_option("#scheme-select", str(saved.pk))
    page.wait_for_selector(f"#picker-tags_none .picker-chip[data-id='{tags['cold'].pk}']")
    chips = page.eval_on_selector_all("#picker-tags_any .picker-chip", "cs => cs.map(c => Number(c.dataset.id))")
    assert chips == [tags["vip"].pk, tags["mine"].pk]
    page.wait_for_function(COUNT.format(1))
    assert page.locator("#query-error").inner_text() == ""
