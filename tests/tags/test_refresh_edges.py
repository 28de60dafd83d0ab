"""Edges found in review: users deleted with personal tags, expired rule taggings, rules edited or tags
deleted while a refresh runs, a rule that can no longer run, counts after customers go, preview permission."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.core.errors import Conflict
from shoal.customers import services as customer_services
from shoal.tags import refresh as refresh_module
from shoal.tags import services
from shoal.tags.models import Tag, Tagging
from shoal.tags.refresh import expire, refresh

from .conftest import assert_scores_are_sums, tag_sets

pytestmark = pytest.mark.django_db
SZ = {"query": {"field": "city", "op": "eq", "value": "深圳"}}


def people(n=6):
    cities = ["深圳", "广州", "北京"]
    return [customer_services.customer_create(actor=SYSTEM, data={
        "name": f"客户{i}", "mobile": f"1380013{i:04d}", "city": cities[i % 3]}) for i in range(n)]


def test_deleting_a_user_takes_their_personal_tags_and_their_scores(personas):
    from shoal.accounts import services as account_services

    cs = people(2)
    user = personas["admin"]
    category = services.category_create(actor=SYSTEM, data={"name": "c"})
    mine = services.tag_create(actor=user, data={"name": "mine", "category_id": category.pk, "kind": "personal",
                                                 "score": 5})
    services.apply_tag(actor=user, tag=mine, customer_ids=[cs[0].pk])
    account_services.user_delete(actor=SYSTEM, user=user)
    assert not Tag.objects.filter(pk=mine.pk).exists()
    cs[0].refresh_from_db()
    assert cs[0].quality_score == 0
    assert_scores_are_sums()


def test_an_expired_rule_tagging_comes_back_at_the_next_incremental_refresh(make_tag, settings):
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    cs = people(3)
    tag = make_tag("短期", score=2, valid_days=1, rules=[SZ])
    refresh()
    expire(now=timezone.now() + timedelta(days=3))
    assert tag_sets().get(tag.pk) is None
    assert refresh()["added"] == 1
    assert tag_sets()[tag.pk] == {cs[0].pk}
    assert refresh(full=True)["added"] == 0
    assert_scores_are_sums()


def test_a_rule_edited_while_a_refresh_runs_is_applied_by_the_next_one(make_tag, monkeypatch, settings):
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    monkeypatch.setattr(refresh_module, "RANGE", 2)
    cs = people(6)
    tag = make_tag("城市", rules=[SZ])
    rule = tag.rules.get()

    def progress(done, total):
        if done == 1:
            services.rule_update(actor=SYSTEM, rule=rule, data={"query": {"field": "city", "op": "eq", "value": "北京"}})

    refresh(progress=progress)
    assert Tag.objects.get(pk=tag.pk).needs_full
    refresh()
    assert tag_sets()[tag.pk] == {cs[2].pk, cs[5].pk}


def test_a_tag_being_refreshed_cannot_be_deleted_until_the_refresh_ends(make_tag, monkeypatch):
    monkeypatch.setattr(refresh_module, "RANGE", 2)
    people(6)
    tag = make_tag("城市", score=3, rules=[SZ])
    refused = []

    def progress(done, total):
        if done == 1:
            with pytest.raises(Conflict) as error:
                services.tag_delete(actor=SYSTEM, tag=Tag.objects.get(pk=tag.pk))
            refused.append(error.value.code)

    refresh(progress=progress)
    assert refused == ["tag_busy"]
    services.tag_delete(actor=SYSTEM, tag=Tag.objects.get(pk=tag.pk))
    assert not Tagging.objects.filter(tag_id=tag.pk).exists()
    assert_scores_are_sums()


def test_a_rule_that_can_no_longer_run_stops_only_its_own_tag(make_tag, django_capture_on_commit_callbacks):
    from shoal.customers.models import CustomField

    field = CustomField.objects.create(key="level", label="等级", type="text")
    cs = people(2)
    ok = make_tag("深圳", rules=[SZ])
    broken = make_tag("等级", rules=[{"query": {"field": "level", "op": "eq", "value": "x"}}], refresh_on_change=True)
    customer_services.custom_field_update(actor=SYSTEM, definition=field, data={"enabled": False})
    result = refresh()
    assert [f["tag"] for f in result["failed"]] == [broken.pk] and "level" in result["failed"][0]["error"]
    assert tag_sets()[ok.pk] == {cs[0].pk}
    assert Tag.objects.get(pk=broken.pk).needs_full  # tried again, in full, once the rule can run
    with django_capture_on_commit_callbacks(execute=True):  # the edit is saved; the failing refresh is logged
        customer_services.customer_update(actor=SYSTEM, customer=cs[1], data={"city": "深圳"})
    cs[1].refresh_from_db()
    assert cs[1].city == "深圳"


def test_counts_follow_customers_deleted_and_merged(make_tag):
    cs = people(3)
    vip = make_tag("贵宾", kind="manual", score=1)
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[c.pk for c in cs])
    customer_services.customer_delete(actor=SYSTEM, customer=cs[0])
    customer_services.customer_merge(actor=SYSTEM, keep=cs[1], other=cs[2])
    vip.refresh_from_db()
    assert vip.customer_count == Tagging.objects.filter(tag=vip).count() == 1
    assert_scores_are_sums()


def test_the_rule_preview_page_needs_the_customer_view_permission(client, make_tag):
    from shoal.accounts.models import DataScope, Role
    from tests.conftest import make_user

    people(3)
    tag = make_tag("自动", rules=[SZ])
    viewer = make_user("tagviewer", Role.objects.create(code="tagview", name="看标签", data_scope=DataScope.ALL,
                                                        permissions=["customers.tags.view"]))
    client.force_login(viewer)
    response = client.post(reverse("admin:tag_rule_preview", args=[tag.pk]),
                           data=json.dumps({"mode": "sql", "sql": "1 = 1"}), content_type="application/json")
    assert response.status_code == 403
