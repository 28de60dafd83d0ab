"""The tags boards of the workbench (customer tags top 10, tag analysis) and the "tags added today" figure of
today's customer activity count only the viewer's customers."""

import pytest

from shoal.accounts.models import Role
from shoal.core import workbench as wb
from shoal.core.actors import SYSTEM
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.tags import services
from tests.conftest import make_user


def content(code, user):
    return wb.board_content(wb.BOARDS[code], actor=user, params={})


@pytest.fixture
def tagged(make_tag, personas):
    customers = [Customer.objects.create(name=f"t{i}") for i in range(4)]
    vip, new = make_tag("VIP", kind="manual"), make_tag("新客", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[c.pk for c in customers[:3]])
    services.apply_tag(actor=SYSTEM, tag=new, customer_ids=[customers[0].pk])
    seller = make_user("tag_seller")
    seller.roles.add(Role.objects.create(name="Tag seller", code="tag_seller",
                                         permissions=["customers.tags.view", "customers.customers.view"]))
    group = CustomerGroup.objects.create(name="Tag group")
    for customer in customers[2:]:
        CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=seller)
    return {"seller": seller, "vip": vip, "new": new}


def test_top10_counts_everyone_for_the_admin_and_the_scope_for_a_salesperson(tagged, personas):
    top = content("tags.top10", personas["admin"])
    assert top.chart.labels == ["VIP", "新客"] and top.chart.series[0]["data"] == [3, 1]
    mine = content("tags.top10", tagged["seller"])
    assert mine.chart.labels == ["VIP"] and mine.chart.series[0]["data"] == [1]  # t2 only is theirs and tagged


def test_analysis_and_tags_added_today_in_scope(tagged, personas):
    admin = {f.key: f.value for f in content("tags.analysis", personas["admin"]).figures}
    assert admin == {"tags": 2, "auto_tags": 0, "manual_tags": 2, "tags_added_today": 4}
    seller = {f.key: f.value for f in content("tags.analysis", tagged["seller"]).figures}
    assert seller["tags_added_today"] == 1
    activity = {f.key: f.value for f in content("customers.activity", tagged["seller"]).figures}
    assert activity["tags_added_today"] == 1 and activity["new_customers"] == 2


def test_tag_boards_need_the_tag_permission(tagged, personas):
    assert not wb.BOARDS["tags.top10"].allowed(personas["salesperson"])
    assert "tags_added_today" not in {f.key for f in content("customers.activity", personas["salesperson"]).figures}


def test_both_ways_of_counting_in_scope_agree(tagged, monkeypatch):
    from shoal.tags import boards

    probed = boards.tag_counts(actor=tagged["seller"])
    monkeypatch.setattr(boards, "PROBE_TAGGINGS", 0)  # many taggings: from the scope's side
    assert boards.tag_counts(actor=tagged["seller"]) == probed == [
        {"tag_id": tagged["vip"].pk, "name": "VIP", "category": "行为", "n": 1}]
