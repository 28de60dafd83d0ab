"""QA polish of issue 12: pool fields in conditions, the follow-up echo, inviter names, rule form defaults,
notification links."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils.translation import override

from shoal.customers import services as customer_services
from shoal.customers.models import Customer
from shoal.customers.quality import set_scores
from shoal.customers.standard import MASKED_FIELDS
from shoal.segments.catalog import DATETIME, NUMBER, POOL_FIELDS, field_catalog
from shoal.segments.selectors import condition_q, segment_queryset
from shoal.segments.sql import guarded


def _additions() -> dict[tuple[str, str], str]:
    text = (Path(__file__).resolve().parents[2] / "locale-additions" / "pools-polish.po").read_text()
    found = {}
    for block in text.split("\n\n"):
        ctx = re.search(r'^msgctxt "(.*)"$', block, re.M)
        msgid, msgstr = re.search(r'^msgid "(.*)"$', block, re.M), re.search(r'^msgstr "(.*)"$', block, re.M)
        if msgid and msgstr:
            found[(ctx.group(1) if ctx else "", msgid.group(1))] = msgstr.group(1)
    return found


ADDITIONS = _additions()


@pytest.fixture
def pool_customers(db):
    people = [customer_services.customer_create(actor=None, data={"name": f"客户{i}", "mobile": f"1390013900{i}"})
              for i in range(4)]
    now = timezone.now()
    for c, (score, count, days) in zip(people, [(10, 0, None), (30, 2, 1), (50, 5, 40), (5, 3, 2)], strict=True):
        Customer.objects.filter(pk=c.pk).update(
            follow_up_count=count, last_follow_up_at=None if days is None else now - timedelta(days=days))
        set_scores({c.pk: score})
    Customer.objects.filter(pk=people[1].pk).update(invited_by=people[0])
    return people


def _names(q):
    return set(Customer.objects.filter(q).values_list("name", flat=True))


@pytest.mark.django_db
def test_pool_fields_in_the_catalog_with_labels():
    catalog = field_catalog()
    assert catalog["quality_score"].type == NUMBER and catalog["follow_up_count"].type == NUMBER
    assert catalog["last_follow_up_at"].type == DATETIME and catalog["invited_by"].column == "invited_by_id"
    with override("en"):
        labels = {k: field_catalog()[k].label for k in POOL_FIELDS}
    # the zh-hans labels, as locale-additions/pools-polish.po gives them (merged by scripts/merge-translations.sh)
    assert {k: ADDITIONS[("condition field", v)] for k, v in labels.items()} == {
        "quality_score": "质量分", "last_follow_up_at": "最近跟进时间", "follow_up_count": "跟进次数",
        "invited_by": "邀请人"}
    # not masked fields: ordered comparisons stay allowed for a viewer whose policy masks
    assert not set(POOL_FIELDS) & set(MASKED_FIELDS)
    condition_q(query={"field": "quality_score", "op": "gt", "value": 1}, masked=frozenset(MASKED_FIELDS))


@pytest.mark.django_db
def test_condition_tree_on_quality_score_and_follow_up_count(pool_customers):
    tree = {"all": [{"field": "quality_score", "op": "gte", "value": 10},
                    {"field": "follow_up_count", "op": "lt", "value": 5}]}
    assert _names(condition_q(query=tree)) == {"客户0", "客户1"}
    assert _names(condition_q(query={"field": "follow_up_count", "op": "between", "value": [2, 3]})) == {"客户1", "客户3"}
    assert _names(condition_q(query={"field": "last_follow_up_at", "op": "within_last_days", "value": 7})) == {
        "客户1", "客户3"}
    assert _names(condition_q(query={"field": "last_follow_up_at", "op": "is_empty"})) == {"客户0"}
    assert _names(condition_q(query={"field": "invited_by", "op": "is_not_empty"})) == {"客户1"}
    assert _names(condition_q(query={"field": "invited_by", "op": "eq", "value": pool_customers[0].pk})) == {"客户1"}
    assert _names(condition_q(query={"not": {"field": "invited_by", "op": "is_not_empty"}})) == {"客户0", "客户2", "客户3"}


@pytest.mark.django_db
def test_custom_sql_may_use_the_pool_fields(pool_customers):
    with guarded():
        qs = segment_queryset(actor=None, sql="quality_score >= 30 AND follow_up_count > 1 AND invited_by IS NULL")
        assert {c.name for c in qs} == {"客户2"}
        assert {c.name for c in segment_queryset(actor=None, sql="invited_by IS NOT NULL")} == {"客户1"}


@pytest.mark.django_db
def test_follow_up_post_answers_as_get_does(client, personas, bearer):
    import json

    customer = customer_services.customer_create(actor=None, data={"name": "跟进客户", "mobile": "13900139099"})
    headers = bearer(personas["admin"])
    r = client.post("/api/v1/follow-ups", data=json.dumps({"customer_id": customer.pk, "summary": "约了下周",
                                                           "next_follow_up_at": "2026-12-10T10:00:00+08:00"}),
                    content_type="application/json", **headers)
    assert r.status_code == 201, r.content
    posted = r.json()
    assert posted["next_follow_up_at"] == "2026-12-10T02:00:00Z"
    listed = client.get("/api/v1/follow-ups", {"customer_id": customer.pk}, **headers).json()["items"][0]
    assert posted == listed


from tests.pools.test_pages import world  # noqa: E402,F401  (the sea pages' fixture)


def test_inviter_by_name_linked_only_when_visible_and_operators_by_display_name(client, personas, world):  # noqa: F811
    from django.urls import reverse

    c = world["c"]
    Customer.objects.filter(pk=c["mine"].pk).update(invited_by=c["other"])  # the other salesperson's customer
    admin = personas["admin"]
    admin.name = "王管理"
    admin.save(update_fields=["name"])
    detail = reverse("admin:customers_customer_detail", args=[c["mine"].pk])
    other_detail = reverse("admin:customers_customer_detail", args=[c["other"].pk])

    client.force_login(admin)
    html = client.get(detail).content.decode()
    assert "别人的客户" in html and f'href="{other_detail}"' in html and f"#{c['other'].pk}<" not in html
    assert "· 王管理</span>" in html and "· p_admin</span>" not in html  # the timeline's operator
    edit = client.get(reverse("admin:customers_customer_change", args=[c["mine"].pk])).content.decode()
    assert 'rounded-default">王管理</div>' in edit and 'rounded-default">p_admin</div>' not in edit

    client.force_login(personas["salesperson"])  # cannot open the inviter: its name, no link
    html = client.get(detail).content.decode()
    assert "别人的客户" in html and f'href="{other_detail}"' not in html


def test_new_rule_forms_default_to_the_next_order_and_a_group_target(client, personas):
    from django.urls import reverse

    from shoal.customers.models import CustomerGroup
    from shoal.pools.services import rules as rule_services

    city = {"field": "city", "op": "eq", "value": "深圳"}
    south, north = CustomerGroup.objects.create(name="华南组"), CustomerGroup.objects.create(name="华北组")
    for order in (1, 4):
        rule_services.group_rule_create(actor=None, data={"name": f"规则{order}", "order": order, "query": city,
                                                          "target_group_id": south.pk})
    rule_services.assignment_rule_create(actor=None, group=south, data={"name": "深圳", "order": 3, "query": city})
    client.force_login(personas["admin"])

    form = client.get(reverse("admin:pool_group_rules")).context["form"]
    first = CustomerGroup.objects.order_by("name").first()
    assert form.initial["order"] == 5 and form.initial["source"] is None and form.initial["target"] == first.pk
    assert f'<option value="{first.pk}" selected>' in str(form["target"])
    assert client.get(reverse("admin:pool_group_assignment", args=[south.pk])).context["form"].initial["order"] == 4
    assert client.get(reverse("admin:pool_group_assignment", args=[north.pk])).context["form"].initial["order"] == 1
    assert client.get(reverse("admin:pool_group_recycle", args=[south.pk])).context["form"].initial["order"] == 1


def test_recycle_warnings_link_to_my_customers(db):
    from django.urls import reverse

    from shoal.customers.models import CustomerGroup
    from shoal.pools import moves
    from shoal.pools.engine import run_warnings
    from shoal.pools.models import RecycleRule
    from shoal.sales.models import Notification
    from tests.conftest import make_user

    seller = make_user("pol_seller")
    group = CustomerGroup.objects.create(name="华东组")
    group.salespeople.add(seller)
    ids = [c.pk for c in Customer.objects.bulk_create([Customer(name=f"w{i}") for i in range(2)])]
    moves.join_group(ids, group.pk, moves.context(None))
    t0 = timezone.now().replace(microsecond=0) - timedelta(days=30)
    moves.assign([(pk, seller.pk) for pk in ids], group.pk, moves.context(None, now=t0))
    RecycleRule.objects.create(group=group, name="r", order=1, days=7, warn_days=2)
    assert run_warnings(now=t0 + timedelta(days=5, seconds=1))["notified"] == 1
    note = Notification.objects.get(user=seller, kind="recycle_warning")
    assert note.link == reverse("admin:pools_my_customers") and note.link


def test_the_rule_editors_field_list_offers_the_pool_fields(client, personas, bearer):
    fields = {f["key"]: f for f in client.get("/api/v1/segments/fields", {"filter_only": "true"},
                                              **bearer(personas["salesperson"])).json()}
    assert {"quality_score", "last_follow_up_at", "follow_up_count", "invited_by"} <= set(fields)
    assert "gt" in fields["quality_score"]["operators"] and "is_not_empty" in fields["invited_by"]["operators"]
