"""The tag pages (标签管理, rule editor, refresh now, 标签历史, the workbench board) through the CSRF-enforcing
client: permissions per persona, the forms' writes and their errors, preview, inline refresh, history filters,
personal tags and the data scope."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from shoal.accounts.models import DataScope, Role
from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.tags import services
from shoal.tags.models import Tag, TagCategory, Tagging, TagHistory, TagRule
from tests.conftest import make_user

from .conftest import assert_scores_are_sums

pytestmark = pytest.mark.django_db

SZ_ROWS = [{"lparen": "", "field": "city", "op": "eq", "value": "深圳", "rparen": "", "logic": "and"}]


@pytest.fixture
def shop(category):
    cities = ["深圳", "广州", "深圳", "北京"]
    return [customer_services.customer_create(actor=SYSTEM, data={
        "name": f"客户{i}", "mobile": f"1380013{i:04d}", "email": f"c{i}@example.com", "city": city})
        for i, city in enumerate(cities)]


@pytest.fixture
def auto_tag(make_tag, shop):
    return make_tag("深圳客户", kind="auto", score=5, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])


def login(client, user):
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# -- permissions ------------------------------------------------------------------------------------------
PAGES = [
    ("admin:tags", lambda w: []),
    ("admin:tag_history", lambda w: []),
    ("admin:tag_category_add", lambda w: []),
    ("admin:tag_category_edit", lambda w: [w["category"].pk]),
    ("admin:tag_add", lambda w: []),
    ("admin:tag_edit", lambda w: [w["tag"].pk]),
    ("admin:tag_rules", lambda w: [w["tag"].pk]),
]


@pytest.mark.parametrize("persona, status", [("admin", 200), ("manager", 200), ("salesperson", 403), ("norole", 403)])
@pytest.mark.parametrize("name, args", PAGES, ids=[p[0] for p in PAGES])
def test_each_page_opens_only_with_the_tag_permissions(client, personas, category, auto_tag, persona, status, name, args):
    login(client, personas[persona])
    response = client.get(reverse(name, args=args({"category": category, "tag": auto_tag})))
    assert response.status_code == status


@pytest.mark.parametrize("persona", ["salesperson", "norole"])
def test_writes_without_the_permissions_are_refused_and_change_nothing(client, personas, category, auto_tag, persona):
    login(client, personas[persona])
    assert client.post(reverse("admin:tag_category_add"), {"name": "X", "object_type": "customer", "order": 0}).status_code == 403
    assert client.post(reverse("admin:tag_delete", args=[auto_tag.pk])).status_code == 403
    assert client.post(reverse("admin:tag_refresh", args=[auto_tag.pk])).status_code == 403
    assert client.post(reverse("admin:tags_refresh")).status_code == 403
    assert client.post(reverse("admin:tag_rule_preview", args=[auto_tag.pk]), data="{}",
                       content_type="application/json").status_code == 403
    assert TagCategory.objects.filter(name="X").count() == 0
    assert Tag.objects.filter(pk=auto_tag.pk).exists() and not Tagging.objects.exists()


def test_a_viewer_without_edit_sees_the_forms_but_cannot_post_them(client, roles, category, auto_tag):
    viewer = make_user("viewer", Role.objects.create(code="tagview", name="看标签", data_scope=DataScope.ALL,
                                                     permissions=["customers.tags.view"]))
    login(client, viewer)
    html = client.get(reverse("admin:tags")).content.decode()
    assert "深圳客户" in html and 'id="add-tag"' not in html and "tag-delete" not in html
    response = client.post(reverse("admin:tag_edit", args=[auto_tag.pk]),
                           {"name": "改名", "category": category.pk, "kind": "auto", "score": 1})
    assert response.status_code == 403
    assert Tag.objects.get(pk=auto_tag.pk).name == "深圳客户"


# -- the tag page -------------------------------------------------------------------------------------------
def test_tag_page_shows_the_tree_and_the_tags_in_words(client, personas, category, auto_tag):
    child = TagCategory.objects.create(name="子分类", parent=category, order=1)
    services.tag_create(actor=SYSTEM, data={"name": "靠谱", "category_id": child.pk, "kind": "manual", "score": -2,
                                            "valid_days": 30})
    login(client, personas["admin"])
    response = client.get(reverse("admin:tags"), {"category": category.pk}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "子分类" in html and "靠谱" in html and "深圳客户" in html  # subcategories included by default
    assert "Auto tag" in html and "Manual tag" in html and ">auto<" not in html
    only = client.get(reverse("admin:tags"), {"category": category.pk, "sub": "0"}).content.decode()
    assert "深圳客户" in only and "靠谱" not in only
    found = client.get(reverse("admin:tags"), {"q": "靠"}).content.decode()
    assert "靠谱" in found and "深圳客户" not in found


def test_personal_tags_are_shown_to_their_owner_only(client, personas, category):
    mine = services.tag_create(actor=personas["manager"], data={"name": "我的私人标签", "category_id": category.pk,
                                                                "kind": "personal"})
    login(client, personas["manager"])
    assert "我的私人标签" in client.get(reverse("admin:tags")).content.decode()
    login(client, personas["admin"])
    assert "我的私人标签" not in client.get(reverse("admin:tags")).content.decode()
    assert client.get(reverse("admin:tag_edit", args=[mine.pk])).status_code == 404
    assert client.post(reverse("admin:tag_delete", args=[mine.pk])).status_code == 404
    assert Tag.objects.filter(pk=mine.pk).exists()


# -- categories through the forms ---------------------------------------------------------------------------
def test_create_edit_and_delete_a_category(client, personas):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_category_add"), {"name": "资产", "object_type": "customer", "order": 2})
    assert response.status_code == 302
    root = TagCategory.objects.get(name="资产")
    response = client.post(reverse("admin:tag_category_add"),
                           {"name": "可投资资产", "object_type": "customer", "parent": root.pk, "order": 0})
    child = TagCategory.objects.get(name="可投资资产")
    assert child.parent_id == root.pk
    response = client.post(reverse("admin:tag_category_edit", args=[child.pk]),
                           {"name": "可投资资产（万）", "object_type": "customer", "parent": root.pk, "order": 5})
    assert response.status_code == 302
    child.refresh_from_db()
    assert (child.name, child.order) == ("可投资资产（万）", 5)
    # the parent still has a child: refused with a message, nothing deleted
    response = client.post(reverse("admin:tag_category_delete", args=[root.pk]), follow=True)
    assert any("该分类下仍有子分类或标签" in m for m in messages_of(response))  # zh-hans by default
    assert TagCategory.objects.filter(pk=root.pk).exists()
    client.post(reverse("admin:tag_category_delete", args=[child.pk]))
    client.post(reverse("admin:tag_category_delete", args=[root.pk]))
    assert not TagCategory.objects.filter(pk__in=[root.pk, child.pk]).exists()


def test_bad_category_input_is_a_form_error_not_a_500(client, personas, category):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_category_add"), {"name": category.name, "object_type": "customer", "order": 0})
    assert response.status_code == 200
    assert "此处已有同名分类" in response.content.decode()  # zh-hans by default
    response = client.post(reverse("admin:tag_category_add"), {"name": "", "object_type": "spaceship", "order": "x"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "object_type", "order"}
    # moving a category under itself
    response = client.post(reverse("admin:tag_category_edit", args=[category.pk]),
                           {"name": category.name, "object_type": "customer", "parent": category.pk, "order": 0})
    assert response.status_code == 200 and response.context["form"].errors
    assert TagCategory.objects.count() == 1


# -- tags through the forms ---------------------------------------------------------------------------------
def tag_form(category, **over):
    data = {"name": "高价值", "category": category.pk, "kind": "manual", "score": 10, "valid_days": "", "enabled": "on",
            "description": "资产高"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_create_edit_and_delete_a_tag(client, personas, category, shop):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_add"), tag_form(category, valid_days=7))
    assert response.status_code == 302
    tag = Tag.objects.get(name="高价值")
    assert (tag.kind, tag.score, tag.valid_days, tag.enabled, tag.description) == ("manual", 10, 7, True, "资产高")
    services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[shop[0].pk])
    response = client.post(reverse("admin:tag_edit", args=[tag.pk]), tag_form(category, score=-3, enabled=None))
    assert response.status_code == 302
    tag.refresh_from_db()
    assert (tag.score, tag.enabled) == (-3, False)
    assert_scores_are_sums()
    response = client.post(reverse("admin:tag_delete", args=[tag.pk]), follow=True)
    assert not Tag.objects.filter(pk=tag.pk).exists()
    assert any("高价值" in m for m in messages_of(response))
    assert_scores_are_sums()


def test_creating_an_auto_tag_leads_to_its_rules(client, personas, category):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_add"), tag_form(category, kind="auto"))
    tag = Tag.objects.get(name="高价值")
    assert response["Location"] == reverse("admin:tag_rules", args=[tag.pk])


@pytest.mark.parametrize("over, field, text", [
    ({"score": "abc"}, "score", "Enter a whole number."),
    ({"score": 2_000_000}, "score", "between -1000000 and 1000000"),
    ({"valid_days": 0}, "valid_days", "from 1 to 36500"),
    ({"name": ""}, "name", "This field is required."),
    ({"kind": "psychic"}, "kind", "Select a valid choice"),
])
def test_bad_tag_input_shows_the_error_beside_the_field(client, personas, category, over, field, text):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_add"), tag_form(category, **over), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert any(text in e for e in response.context["form"].errors[field])
    assert not Tag.objects.exists()


def test_duplicate_tag_name_and_kind_change_are_refused_with_a_message(client, personas, category, auto_tag):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_add"), tag_form(category, name="深圳客户"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "A tag with this name already exists here" in response.content.decode()
    services.refresh_now(actor=SYSTEM, tag=auto_tag)
    response = client.post(reverse("admin:tag_edit", args=[auto_tag.pk]),
                           tag_form(category, name="深圳客户", kind="manual"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "keeps its kind" in response.content.decode()
    assert Tag.objects.get(pk=auto_tag.pk).kind == "auto"


def test_the_pages_are_in_chinese_by_default(client, personas, category, auto_tag):
    services.refresh_now(actor=SYSTEM, tag=auto_tag)
    login(client, personas["admin"])
    html = client.get(reverse("admin:tags")).content.decode()
    assert "标签管理" in html and "自动标签" in html and "包含下级" in html and "Auto tag" not in html
    assert "客户标签 Top 10" in client.get("/").content.decode()
    html = client.get(reverse("admin:tag_history")).content.decode()
    assert "标签历史" in html and "规则 #" in html and "添加" in html
    html = client.get(reverse("admin:tag_rules", args=[auto_tag.pk])).content.decode()
    assert "包含标签" in html and "预览" in html


# -- rules, preview and refresh ----------------------------------------------------------------------------
def test_add_a_rule_from_rows_preview_it_and_refresh_inline(client, personas, make_tag, shop):
    tag = make_tag("深圳", kind="auto", score=4)
    login(client, personas["admin"])
    url = reverse("admin:tag_rules", args=[tag.pk])
    preview = client.post(reverse("admin:tag_rule_preview", args=[tag.pk]),
                          data=json.dumps({"mode": "rows", "rows": SZ_ROWS}), content_type="application/json")
    assert preview.status_code == 200
    body = preview.json()
    assert body["count"] == 2 and sorted(c["id"] for c in body["sample"]) == [shop[0].pk, shop[2].pk]
    assert all("*" in c["mobile"] for c in body["sample"])  # masked as in lists
    response = client.post(url, {"mode": "rows", "rows": json.dumps(SZ_ROWS)})
    assert response.status_code == 302
    rule = TagRule.objects.get(tag=tag)
    assert rule.query == {"field": "city", "op": "eq", "value": "深圳"} and rule.rows == SZ_ROWS
    assert not Tagging.objects.exists()
    refreshed = client.post(reverse("admin:tag_refresh", args=[tag.pk]), HTTP_ACCEPT="application/json",
                            HTTP_ACCEPT_LANGUAGE="en")
    assert refreshed.status_code == 200
    result = refreshed.json()
    assert result["result"]["added"] == 2 and "2 tagged" in result["message"]
    assert set(Tagging.objects.filter(tag=tag).values_list("customer_id", flat=True)) == {shop[0].pk, shop[2].pk}
    assert_scores_are_sums()
    html = client.get(url).content.decode()
    assert '<strong id="tag-count">2</strong>' in html and "城市" in html  # the rule in words


def test_refresh_all_without_javascript_redirects_with_the_result(client, personas, auto_tag, shop):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tags_refresh"), {"next": reverse("admin:tags")}, follow=True,
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain[-1][0] == reverse("admin:tags")
    assert any("Refreshed 1 tags" in m and "2 tagged" in m for m in messages_of(response))
    assert Tagging.objects.filter(tag=auto_tag).count() == 2


def test_refresh_of_a_big_database_answers_with_a_job(client, personas, auto_tag, settings):
    settings.SHOAL_TAG_REFRESH_INLINE_MAX = 1
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_refresh", args=[auto_tag.pk]), HTTP_ACCEPT="application/json")
    job_id = response.json()["job_id"]
    run = client.get(f"/api/v1/jobs/{job_id}").json()
    assert run["job"] == "tags.refresh_all" and run["status"] in ("queued", "running", "succeeded")


def test_rule_with_sql_and_tag_pickers_and_its_edit_and_delete(client, personas, make_tag, shop):
    vip = make_tag("VIP", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[shop[0].pk, shop[1].pk])
    tag = make_tag("深圳非VIP", kind="auto")
    login(client, personas["admin"])
    url = reverse("admin:tag_rules", args=[tag.pk])
    preview = client.post(reverse("admin:tag_rule_preview", args=[tag.pk]), content_type="application/json",
                          data=json.dumps({"mode": "sql", "sql": "city = '深圳'", "exclude_tags": [vip.pk]}))
    assert preview.json()["count"] == 1
    client.post(url, {"mode": "sql", "sql": "city = '深圳'", "exclude_tags": [vip.pk]})
    rule = TagRule.objects.get(tag=tag)
    assert (rule.sql, rule.exclude_tags, rule.query) == ("city = '深圳'", [vip.pk], None)
    client.post(reverse("admin:tag_rule_edit", args=[tag.pk, rule.pk]),
                {"mode": "sql", "sql": "city = '广州'", "include_tags": [vip.pk]})
    rule.refresh_from_db()
    assert (rule.sql, rule.include_tags, rule.exclude_tags) == ("city = '广州'", [vip.pk], [])
    client.post(reverse("admin:tag_refresh", args=[tag.pk]))
    assert set(Tagging.objects.filter(tag=tag).values_list("customer_id", flat=True)) == {shop[1].pk}
    client.post(reverse("admin:tag_rule_delete", args=[tag.pk, rule.pk]))
    assert not TagRule.objects.filter(tag=tag).exists()


@pytest.mark.parametrize("post, text", [
    ({"mode": "sql", "sql": "1=1; DROP TABLE customers_customer"}, "Only one condition is allowed"),
    ({"mode": "rows", "rows": json.dumps([{"field": "nope", "op": "eq", "value": 1}])}, "unknown field"),
    ({"mode": "rows", "rows": "not json"}, "could not be read"),
    ({"mode": "rows", "rows": ""}, "needs a condition tree"),
])
def test_a_bad_rule_is_a_message_on_the_page_and_nothing_is_saved(client, personas, auto_tag, post, text):
    login(client, personas["admin"])
    response = client.post(reverse("admin:tag_rules", args=[auto_tag.pk]), post, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert text in response.content.decode()
    assert TagRule.objects.filter(tag=auto_tag).count() == 1


def test_a_bad_preview_is_a_400_with_the_reason(client, personas, auto_tag):
    login(client, personas["admin"])
    url = reverse("admin:tag_rule_preview", args=[auto_tag.pk])
    response = client.post(url, data="[", content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    response = client.post(url, data=json.dumps({"mode": "sql", "sql": "nope = 1"}), content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Unknown field nope" in response.json()["error"]["message"]
    response = client.post(url, data=json.dumps({"mode": "rows", "rows": [], "include_tags": [auto_tag.pk]}),
                           content_type="application/json")
    assert response.status_code == 400  # a tag may not pick itself


def test_a_manual_tag_has_no_rule_page(client, personas, make_tag):
    tag = make_tag("手动", kind="manual")
    login(client, personas["admin"])
    response = client.get(reverse("admin:tag_rules", args=[tag.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert any("Only auto tags have rules" in m for m in messages_of(response))


# -- history --------------------------------------------------------------------------------------------------
def test_history_lists_in_words_with_filters(client, personas, auto_tag, make_tag, shop):
    services.refresh_now(actor=SYSTEM, tag=auto_tag)
    manual = make_tag("手动标签", kind="manual")
    services.apply_tag(actor=personas["admin"], tag=manual, customer_ids=[shop[1].pk])
    services.remove_tag(actor=personas["admin"], tag=manual, customer_ids=[shop[1].pk])
    login(client, personas["admin"])
    url = reverse("admin:tag_history")
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "4 entries" in html
    assert "Rule #" in html and "p_admin" in html and "Added" in html and "Removed" in html and "Rule</td>" in html
    assert client.get(url, {"tag": manual.pk}).context["page_obj"].paginator.count == 2
    assert client.get(url, {"action": "remove"}).context["page_obj"].paginator.count == 1
    assert client.get(url, {"source": "rule"}).context["page_obj"].paginator.count == 2
    assert client.get(url, {"customer": str(shop[1].pk)}).context["page_obj"].paginator.count == 2
    assert client.get(url, {"customer": "客户2"}).context["page_obj"].paginator.count == 1
    today = timezone.localdate()
    assert client.get(url, {"start": today.isoformat(), "end": today.isoformat()}).context["page_obj"].paginator.count == 4
    assert client.get(url, {"end": (today - timedelta(days=1)).isoformat()}).context["page_obj"].paginator.count == 0
    huge = "9" * 30  # not an id any database holds: no match, no 500
    assert client.get(url, {"customer": huge, "tag": huge}).context["page_obj"].paginator.count == 0
    response = client.get(url, {"start": "yesterday"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and any("YYYY-MM-DD" in m for m in messages_of(response))


def test_history_times_are_local(client, personas, make_tag, shop, settings):
    manual = make_tag("手动标签", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=manual, customer_ids=[shop[0].pk])
    at = timezone.make_aware(timezone.datetime(2026, 3, 1, 23, 30), timezone.get_fixed_timezone(0))  # UTC
    TagHistory.objects.update(at=at)
    login(client, personas["admin"])
    html = client.get(reverse("admin:tag_history")).content.decode()
    assert "2026-03-02 07:30:00" in html  # Asia/Shanghai


def test_history_hides_others_personal_tags_and_customers_outside_the_scope(client, personas, category, shop):
    owner = personas["manager"]
    secret = services.tag_create(actor=owner, data={"name": "私人", "category_id": category.pk, "kind": "personal"})
    Role.objects.filter(pk=owner.roles.first().pk).update(data_scope=DataScope.ALL)
    services.apply_tag(actor=owner, tag=secret, customer_ids=[shop[0].pk])
    public = services.tag_create(actor=SYSTEM, data={"name": "公开", "category_id": category.pk, "kind": "manual"})
    services.apply_tag(actor=SYSTEM, tag=public, customer_ids=[shop[0].pk, shop[1].pk])
    login(client, personas["admin"])
    response = client.get(reverse("admin:tag_history"))
    assert response.context["page_obj"].paginator.count == 2 and "私人" not in response.content.decode()
    # a user who sees only their own customers sees only their customers' history
    own = make_user("own_tags", Role.objects.create(code="owntags", name="本人标签", data_scope=DataScope.OWN,
                                                    permissions=["customers.tags.view", "customers.customers.view"]))
    group = CustomerGroup.objects.create(name="组")
    CustomerGroupMembership.objects.create(customer=shop[1], group=group, salesperson=own, assigned_at=timezone.now())
    login(client, own)
    response = client.get(reverse("admin:tag_history"))
    rows = response.context["rows"]
    assert [r["entry"].customer_id for r in rows] == [shop[1].pk]
    assert client.get(reverse("admin:tag_history"), {"customer": str(shop[0].pk)}).context["page_obj"].paginator.count == 0


# -- analytics ------------------------------------------------------------------------------------------------
def test_charts_on_the_tag_page_and_the_workbench_card(client, personas, make_tag, auto_tag, shop):
    services.refresh_now(actor=SYSTEM, tag=auto_tag)
    manual = make_tag("手动标签", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=manual, customer_ids=[shop[0].pk, shop[1].pk, shop[3].pk])
    login(client, personas["admin"])
    response = client.get(reverse("admin:tags"))
    top = json.loads(response.context["charts"]["top"])
    assert top["labels"] == ["手动标签", "深圳客户"] and top["datasets"][0]["data"] == [3, 2]
    distribution = json.loads(response.context["charts"]["distribution"])
    assert distribution["labels"] == ["行为"] and distribution["datasets"][0]["data"] == [4]  # distinct customers
    html = response.content.decode()
    assert 'class="chart"' in html and "unfold/js/chart/chart.js" in html and "cdn" not in html.lower()
    board_url = reverse("admin:workbench_board", args=["tags.top10"])
    assert board_url in client.get("/").content.decode()  # the workbench loads the board on its own
    board = client.get(board_url).content.decode()
    assert "workbench-chart-canvas" in board and "手动标签" in board and "cdn" not in board.lower()
    login(client, personas["salesperson"])
    assert board_url not in client.get("/").content.decode()
    assert client.get(board_url).status_code == 403
