"""Tags on the customer pages: the list's Tags and quality-score columns, its filter by tag, the batch actions
(add / remove a tag on a selection, in the user's data scope) and the detail page's chips with add / remove."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shoal.accounts.models import Role
from shoal.core.actors import SYSTEM
from shoal.customers import columns
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.tags import services
from shoal.tags.models import Tagging, TagHistory
from shoal.tags.refresh import refresh
from tests.conftest import make_user

from .conftest import assert_scores_are_sums

pytestmark = pytest.mark.django_db
LIST = "/customers/customer/"


def tag_ids(customer):
    return set(Tagging.objects.filter(customer=customer).values_list("tag_id", flat=True))



@pytest.fixture(autouse=True)
def english(client):
    """These tests read the English words (the zh-hans pages are checked by screenshots and test_translations)."""
    from django.utils import translation

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield

@pytest.fixture
def shop(personas, make_tag, category):
    """Two customers in the salesperson's private sea and one outside it; a manual, an auto and two personal
    tags (the salesperson's and the admin's)."""
    group = CustomerGroup.objects.create(name="Group A")
    sales = personas["salesperson"]
    mine = [customer_services.customer_create(actor=SYSTEM, data={"name": f"Mine {i}", "mobile": f"1380013800{i}",
                                                                  "city": "深圳" if i == 0 else "北京"})
            for i in range(2)]
    for customer in mine:
        CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=sales)
    theirs = customer_services.customer_create(actor=SYSTEM, data={"name": "Theirs", "mobile": "13900139000"})
    manual = make_tag("靠谱", kind="manual", score=5)
    auto = make_tag("深圳客户", score=3, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    refresh()
    own = services.tag_create(actor=sales, data={"name": "我的关注", "category_id": category.pk, "kind": "personal",
                                                 "score": 1})
    admins = services.tag_create(actor=personas["admin"], data={"name": "管理员私藏", "category_id": category.pk,
                                                                "kind": "personal", "score": 2})
    return {"mine": mine, "theirs": theirs, "manual": manual, "auto": auto, "own": own, "admins": admins,
            "sales": sales}


def row_of(html: str, customer_id: int) -> str:
    row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*?/customers/customer/{customer_id}/detail/(?:(?!</tr>).)*</tr>',
                    html, re.S)
    assert row, customer_id
    return row.group(0)


def chips(html: str, customer_id: int | None = None) -> set[int]:
    """Tag ids shown as chips (in the row of ``customer_id`` when given)."""
    if customer_id is not None:
        html = row_of(html, customer_id)
    return {int(x) for x in re.findall(r'data-tag="(\d+)"', html)}


def list_tags(html: str, customer_id: int) -> set[str]:
    """Names of the tags in a list row: its chips and, past the first two, the "+N" tooltip."""
    row = row_of(html, customer_id)
    names = set(re.findall(r'data-tag="\d+" title="([^"]+) · ', row))
    more = re.search(r'title="([^"]+)">\+(\d+)</span>', row)
    if more:
        assert len(names) == 2 and int(more.group(2)) == len(more.group(1).split("、")) - 2
        names |= set(more.group(1).split("、"))
    return names


def result_names(html: str) -> list[str]:
    return re.findall(r'class="text-primary-600 shoal-cell" href="[^"]+" title="([^"]+)"', html)


# -- the list --------------------------------------------------------------------------------------------------
def test_the_list_shows_each_customers_visible_tags_and_its_quality_score(client, personas, shop):
    services.apply_tag(actor=SYSTEM, tag=shop["manual"], customer_ids=[shop["mine"][0].pk, shop["theirs"].pk])
    services.apply_tag(actor=personas["admin"], tag=shop["admins"], customer_ids=[shop["mine"][0].pk])
    services.apply_tag(actor=shop["sales"], tag=shop["own"], customer_ids=[shop["mine"][0].pk])
    client.force_login(personas["admin"])
    html = client.get(LIST).content.decode()
    first = shop["mine"][0]
    # the admin sees the global tags and their own personal tag, not the salesperson's
    assert list_tags(html, first.pk) == {"靠谱", "深圳客户", "管理员私藏"}
    assert len(chips(html, first.pk)) == 2 and chips(html, first.pk) < {shop["manual"].pk, shop["auto"].pk,
                                                                       shop["admins"].pk}
    assert chips(html, shop["theirs"].pk) == {shop["manual"].pk}
    assert chips(html, shop["mine"][1].pk) == set()
    first.refresh_from_db()
    assert first.quality_score == 5 + 3 + 2 + 1
    columns.save_user_columns(personas["admin"], ["name", "quality_score", "tags"])
    html = client.get(LIST).content.decode()
    assert re.search(rf'/customers/customer/{first.pk}/detail/.*?<span class="shoal-number">11</span>', html, re.S)
    client.force_login(shop["sales"])
    html = client.get(LIST).content.decode()
    assert list_tags(html, first.pk) == {"靠谱", "深圳客户", "我的关注"}
    assert shop["theirs"].name not in result_names(html)  # outside the salesperson's scope


def test_the_tags_of_a_page_are_read_in_one_query_whatever_its_length(client, personas, shop):
    client.force_login(personas["admin"])

    def tagging_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        return [q["sql"] for q in queries.captured_queries if "tags_tagging" in q["sql"]]

    few = tagging_queries()
    extra = [customer_services.customer_create(actor=SYSTEM, data={"name": f"More {i}", "mobile": f"1370013700{i}"})
             for i in range(8)]
    services.apply_tag(actor=SYSTEM, tag=shop["manual"], customer_ids=[c.pk for c in extra])
    many = tagging_queries()
    assert len(few) == len(many) == 1


def test_the_list_sorts_by_quality_score(client, personas, shop):
    low, high = shop["mine"][1], shop["theirs"]
    services.apply_tag(actor=SYSTEM, tag=shop["manual"], customer_ids=[high.pk])
    neg = services.tag_create(actor=SYSTEM, data={"name": "差评", "category_id": shop["manual"].category_id,
                                                  "kind": "manual", "score": -4})
    services.apply_tag(actor=SYSTEM, tag=neg, customer_ids=[low.pk])
    admin = personas["admin"]
    client.force_login(admin)
    assert "quality_score" not in columns.user_columns(admin)  # offered in the column chooser, not by default
    chooser = client.get(reverse("admin:customers_customer_columns")).content.decode()
    assert 'value="quality_score"' in chooser and 'value="tags"' in chooser
    client.post(reverse("admin:customers_customer_columns"),
                {"show": ["name", "tags", "quality_score"], "position": ["name", "tags", "quality_score"]})
    index = columns.user_columns(admin).index("quality_score") + 1  # after the checkbox column
    assert index == 3
    names = result_names(client.get(LIST, {"o": f"-{index}"}).content.decode())
    assert names == ["Theirs", "Mine 0", "Mine 1"]  # 5, 3 (the auto tag), -4
    assert result_names(client.get(LIST, {"o": f"{index}"}).content.decode()) == ["Mine 1", "Mine 0", "Theirs"]
    assert_scores_are_sums()


def test_the_list_filters_by_tag_and_personal_tags_only_by_their_owner(client, personas, shop):
    services.apply_tag(actor=SYSTEM, tag=shop["manual"], customer_ids=[shop["mine"][1].pk, shop["theirs"].pk])
    services.apply_tag(actor=personas["admin"], tag=shop["admins"], customer_ids=[shop["mine"][0].pk])
    client.force_login(personas["admin"])
    assert sorted(result_names(client.get(LIST, {"tag": shop["manual"].pk}).content.decode())) == ["Mine 1", "Theirs"]
    assert result_names(client.get(LIST, {"tag": shop["auto"].pk}).content.decode()) == ["Mine 0"]
    assert result_names(client.get(LIST, {"tag": shop["admins"].pk}).content.decode()) == ["Mine 0"]
    page = client.get(LIST).content.decode()
    assert f'value="{shop["admins"].pk}"' in page and "管理员私藏" in page
    faceted = client.get(LIST, {"_facets": "True"})  # "show counts": each tag's count among the listed customers
    assert faceted.status_code == 200 and "靠谱 (2)" in faceted.content.decode()
    # another user's personal tag is neither offered nor matched
    client.force_login(shop["sales"])
    page = client.get(LIST).content.decode()
    assert "管理员私藏" not in page and "我的关注" in page
    assert result_names(client.get(LIST, {"tag": shop["admins"].pk}).content.decode()) == []
    assert result_names(client.get(LIST, {"tag": "abc"}).content.decode()) == []


def test_a_user_who_chose_columns_before_tags_gets_the_new_columns(personas, shop):
    admin = personas["admin"]
    from shoal.customers.models import CustomerListPreference

    CustomerListPreference.objects.create(user=admin, columns=["id", "name"], known=["id", "name"])
    assert columns.user_columns(admin) == ["id", "name", "tags"]
    columns.save_user_columns(admin, ["name", "quality_score"])
    assert columns.user_columns(admin) == ["name", "quality_score"]  # a choice made with them stays


# -- batch actions ------------------------------------------------------------------------------------------------
def test_batch_add_then_remove_a_manual_tag_with_history_and_scores(client, personas, shop):
    client.force_login(shop["sales"])
    page = client.get(LIST).content.decode()
    assert 'value="tags_add"' in page and 'value="tags_remove"' in page
    ids = [c.pk for c in shop["mine"]]
    form = client.post(LIST, {"action": "tags_add", "_selected_action": ids, "index": 0})
    assert form.status_code == 200
    html = form.content.decode()
    offered = {int(x) for x in re.findall(r'<option value="(\d+)"', re.search(r'name="tag".*?</select>', html, re.S).group(0))}
    assert offered == {shop["manual"].pk, shop["own"].pk}  # no auto tag, no one else's personal tag
    response = client.post(LIST, {"action": "tags_add", "_selected_action": ids, "select_across": "0",
                                  "tag": shop["manual"].pk, "apply": "1"}, follow=True)
    assert "Tag 靠谱 added to 2 customers (0 already had it)." in response.content.decode()
    assert all(shop["manual"].pk in tag_ids(c) for c in shop["mine"])
    assert TagHistory.objects.filter(tag=shop["manual"], action="add", actor=shop["sales"]).count() == 2
    again = client.post(LIST, {"action": "tags_add", "_selected_action": ids, "tag": shop["manual"].pk,
                               "apply": "1"}, follow=True)
    assert "Tag 靠谱 added to 0 customers (2 already had it)." in again.content.decode()
    client.post(LIST, {"action": "tags_remove", "_selected_action": ids[:1], "tag": shop["manual"].pk, "apply": "1"})
    assert shop["manual"].pk not in tag_ids(shop["mine"][0]) and shop["manual"].pk in tag_ids(shop["mine"][1])
    shop["manual"].refresh_from_db()
    assert shop["manual"].customer_count == 1
    assert_scores_are_sums()


def test_batch_add_to_all_filtered_results(client, personas, shop):
    client.force_login(personas["admin"])
    response = client.post(f"{LIST}?tag={shop['auto'].pk}",
                           {"action": "tags_add", "_selected_action": [shop["mine"][0].pk], "select_across": "1",
                            "tag": shop["manual"].pk, "apply": "1"})
    assert response.status_code == 302
    assert set(Tagging.objects.filter(tag=shop["manual"]).values_list("customer_id", flat=True)) == {shop["mine"][0].pk}


def test_a_salesperson_cannot_tag_a_customer_outside_their_scope(client, shop):
    client.force_login(shop["sales"])
    client.post(LIST, {"action": "tags_add", "_selected_action": [shop["theirs"].pk, shop["mine"][0].pk],
                       "tag": shop["manual"].pk, "apply": "1"})
    assert tag_ids(shop["theirs"]) == set()
    assert shop["manual"].pk in tag_ids(shop["mine"][0])
    # nor on its detail page (it does not exist for them)
    response = client.post(reverse("admin:customer_tag_add", args=[shop["theirs"].pk]), {"tag": shop["manual"].pk})
    assert response.status_code == 404 and tag_ids(shop["theirs"]) == set()


def test_auto_tags_and_other_users_personal_tags_are_refused(client, personas, shop):
    client.force_login(shop["sales"])
    target = shop["mine"][1]
    for tag in (shop["auto"], shop["admins"]):
        response = client.post(LIST, {"action": "tags_add", "_selected_action": [target.pk], "tag": tag.pk,
                                      "apply": "1"})
        assert response.status_code == 200 and "Choose a manual or personal tag." in response.content.decode()
    assert tag_ids(target) == set()
    # the auto tag cannot be taken off by hand either
    first = shop["mine"][0]
    client.post(LIST, {"action": "tags_remove", "_selected_action": [first.pk], "tag": shop["auto"].pk, "apply": "1"})
    response = client.post(reverse("admin:customer_tag_remove", args=[first.pk, shop["auto"].pk]), follow=True)
    assert "深圳客户 is an auto tag: its rules decide who has it" in response.content.decode()
    assert shop["auto"].pk in tag_ids(first)
    response = client.post(reverse("admin:customer_tag_remove", args=[first.pk, shop["admins"].pk]))
    assert response.status_code == 404


def test_tagging_needs_the_tag_permission(client, personas, shop):
    viewer = make_user("viewer", Role.objects.create(name="Viewer", code="viewer", data_scope="all",
                                                    permissions=["customers.customers.view"]))
    client.force_login(viewer)
    page = client.get(LIST).content.decode()
    assert 'value="tags_add"' not in page and 'value="tags_remove"' not in page
    client.post(LIST, {"action": "tags_add", "_selected_action": [shop["mine"][0].pk], "tag": shop["manual"].pk,
                       "apply": "1"})
    assert shop["manual"].pk not in tag_ids(shop["mine"][0])
    assert client.post(reverse("admin:customer_tag_add", args=[shop["mine"][0].pk]),
                       {"tag": shop["manual"].pk}).status_code == 403
    detail = client.get(reverse("admin:customers_customer_detail", args=[shop["mine"][0].pk])).content.decode()
    assert 'id="tag-add"' not in detail and "data-remove-tag" not in detail


# -- the detail page ----------------------------------------------------------------------------------------------
def test_the_detail_page_shows_chips_and_adds_and_removes_a_tag(client, shop):
    client.force_login(shop["sales"])
    first = shop["mine"][0]
    url = reverse("admin:customers_customer_detail", args=[first.pk])
    html = client.get(url).content.decode()
    panel = re.search(r'<div id="customer-tags".*?<div id="metrics"', html, re.S).group(0)
    assert chips(panel) == {shop["auto"].pk}
    assert f'data-remove-tag="{shop["auto"].pk}"' not in panel  # auto: shown, not removable
    assert 'data-kind="auto"' in panel and 'data-score="3"' in panel
    response = client.post(reverse("admin:customer_tag_add", args=[first.pk]), {"tag": shop["own"].pk}, follow=True)
    html = response.content.decode()
    assert "Tag 我的关注 added." in html
    assert f'data-remove-tag="{shop["own"].pk}"' in html and 'data-score="4"' in html
    response = client.post(reverse("admin:customer_tag_remove", args=[first.pk, shop["own"].pk]), follow=True)
    assert "Tag 我的关注 removed." in response.content.decode()
    assert tag_ids(first) == {shop["auto"].pk}
    assert list(TagHistory.objects.filter(tag=shop["own"]).order_by("id").values_list("action", "source")) == [
        ("add", "user"), ("remove", "user")]
    assert_scores_are_sums()


def test_the_detail_page_forms_need_the_csrf_token(personas, shop):
    raw = Client(enforce_csrf_checks=True)
    raw.force_login(shop["sales"])
    first = shop["mine"][0]
    assert raw.post(reverse("admin:customer_tag_add", args=[first.pk]), {"tag": shop["manual"].pk}).status_code == 403
    assert tag_ids(first) == {shop["auto"].pk}


def test_a_bad_tag_choice_is_a_message_not_an_error(client, shop):
    client.force_login(shop["sales"])
    first = shop["mine"][0]
    for value in ("", "abc", "999999"):
        response = client.post(reverse("admin:customer_tag_add", args=[first.pk]), {"tag": value}, follow=True)
        assert response.status_code == 200 and "Choose a manual or personal tag." in response.content.decode()
    assert client.get(reverse("admin:customer_tag_add", args=[first.pk])).status_code == 405
