"""The refresh engine: full, incremental, dependencies, idempotence, history, scores, expiry."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.customers import services as customer_services
from shoal.tags import services
from shoal.tags.models import Tag, Tagging, TagHistory
from shoal.tags.refresh import expire, expiry_for, refresh

from .conftest import assert_scores_are_sums, tag_sets
from .conftest import history as history_rows

pytestmark = pytest.mark.django_db


def people(n=6):
    cities = ["深圳", "广州", "北京"]
    return [customer_services.customer_create(actor=SYSTEM, data={
        "name": f"客户{i}", "mobile": f"1380013{i:04d}", "city": cities[i % 3], "source": "ads" if i % 2 else ""})
        for i in range(n)]


def test_full_refresh_tags_matching_customers_with_history_and_scores(make_tag):
    cs = people()
    sz = make_tag("深圳客户", score=5, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    result = refresh()
    assert result["tags"] == 1 and result["added"] == 2 and result["removed"] == 0
    assert tag_sets() == {sz.pk: {cs[0].pk, cs[3].pk}}
    history = [(r["customer_id"], r["action"], r["source"], r["rule_id"]) for r in history_rows(tag_id=sz.pk)]
    rule_id = sz.rules.get().pk
    assert sorted(history) == sorted([(cs[0].pk, "add", "rule", rule_id), (cs[3].pk, "add", "rule", rule_id)])
    sz.refresh_from_db()
    assert sz.customer_count == 2 and not sz.needs_full and sz.refreshed_at is not None
    assert_scores_are_sums()


def test_a_second_refresh_with_no_change_writes_nothing(make_tag):
    people()
    make_tag("深圳客户", score=5, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    refresh()
    history = TagHistory.objects.count()
    again = refresh()
    assert (again["added"], again["removed"]) == (0, 0)
    assert TagHistory.objects.count() == history


def test_incremental_refresh_reads_only_changed_customers_and_follows_edits(make_tag, settings):
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    cs = people()
    sz = make_tag("深圳客户", score=3, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    refresh()
    customer_services.customer_update(actor=SYSTEM, customer=cs[1], data={"city": "深圳"})
    customer_services.customer_update(actor=SYSTEM, customer=cs[0], data={"city": "北京"})
    result = refresh()
    assert result["evaluated"] == 2
    assert (result["added"], result["removed"]) == (1, 1)
    assert tag_sets()[sz.pk] == {cs[1].pk, cs[3].pk}
    assert list(TagHistory.objects.filter(tag=sz, action="remove").values_list("customer_id", flat=True)) == [cs[0].pk]
    assert_scores_are_sums()


def test_include_and_exclude_tags_and_rules_reading_other_auto_tags(make_tag, settings):
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    cs = people()
    ad = make_tag("广告来源", score=1, rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}}])
    vip = make_tag("贵宾", kind="manual", score=10)
    both = make_tag("广告贵宾", score=2, rules=[{"include_tags": [ad.pk], "exclude_tags": [vip.pk]}])
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[cs[1].pk])
    refresh()
    assert tag_sets()[ad.pk] == {cs[1].pk, cs[3].pk, cs[5].pk}
    assert tag_sets()[both.pk] == {cs[3].pk, cs[5].pk}
    # the manual tag changes: the dependent auto tag follows at the next (incremental) refresh
    services.remove_tag(actor=SYSTEM, tag=vip, customer_ids=[cs[1].pk])
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[cs[3].pk])
    result = refresh()
    assert tag_sets()[both.pk] == {cs[1].pk, cs[5].pk}
    assert result["evaluated"] == 2
    # an edit changes the first auto tag; the second follows in the same run
    customer_services.customer_update(actor=SYSTEM, customer=cs[5], data={"source": "referral"})
    refresh()
    assert tag_sets()[both.pk] == {cs[1].pk}
    assert_scores_are_sums()


def test_rule_changes_make_the_next_refresh_full(make_tag):
    cs = people()
    sz = make_tag("城市", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    refresh()
    rule = sz.rules.get()
    services.rule_update(actor=SYSTEM, rule=rule, data={"query": {"field": "city", "op": "eq", "value": "北京"}})
    assert Tag.objects.get(pk=sz.pk).needs_full
    refresh()
    assert tag_sets()[sz.pk] == {cs[2].pk, cs[5].pk}


def test_manual_taggings_of_an_auto_tag_are_refused(make_tag):
    cs = people(1)
    auto = make_tag("自动", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    with pytest.raises(ShoalError) as error:
        services.apply_tag(actor=SYSTEM, tag=auto, customer_ids=[cs[0].pk])
    assert error.value.code == "auto_tag"


def test_rules_may_not_form_a_circle(make_tag):
    a = make_tag("甲", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    b = make_tag("乙", rules=[{"include_tags": [a.pk]}])
    with pytest.raises(ShoalError) as error:
        services.rule_create(actor=SYSTEM, tag=a, data={"include_tags": [b.pk]})
    assert error.value.code == "tag_cycle"
    with pytest.raises(ShoalError):
        services.rule_create(actor=SYSTEM, tag=a, data={"exclude_tags": [a.pk]})


def test_score_changes_and_deletion_keep_quality_scores_equal_to_sums(make_tag):
    cs = people()
    sz = make_tag("深圳客户", score=5, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    vip = make_tag("贵宾", kind="manual", score=-2)
    refresh()
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[c.pk for c in cs[:2]])
    assert_scores_are_sums()
    services.tag_update(actor=SYSTEM, tag=sz, data={"score": 8})
    assert_scores_are_sums()
    cs[0].refresh_from_db()
    assert cs[0].quality_score == 6
    services.tag_delete(actor=SYSTEM, tag=vip)
    assert_scores_are_sums()
    cs[0].refresh_from_db()
    assert cs[0].quality_score == 8


def test_expiry_is_at_local_midnight_after_n_natural_days(make_tag, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    tag = make_tag("七日", kind="manual", valid_days=7)
    at = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.get_fixed_timezone(8 * 60))
    expires = expiry_for(tag, at)
    assert timezone.localtime(expires).replace(tzinfo=None) == datetime(2026, 3, 8, 0, 0)
    # 23:30 local is 15:30 UTC: the local date counts, not the UTC one
    assert expiry_for(tag, at.astimezone(timezone.UTC if hasattr(timezone, "UTC") else None) if False else at) == expires


def test_expiry_job_removes_expired_taggings_with_history_and_scores(make_tag):
    cs = people(3)
    tag = make_tag("短期", kind="manual", score=4, valid_days=1)
    services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[c.pk for c in cs])
    Tagging.objects.filter(customer=cs[0]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire()["removed"] == 1
    assert tag_sets()[tag.pk] == {cs[1].pk, cs[2].pk}
    assert TagHistory.objects.filter(tag=tag, action="remove", source="expiry").count() == 1
    assert expire()["removed"] == 0
    assert_scores_are_sums()


def test_refresh_on_change_retags_a_customer_as_soon_as_it_is_saved(make_tag, django_capture_on_commit_callbacks):
    cs = people(3)
    quick = make_tag("即时", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}], refresh_on_change=True)
    slow = make_tag("每日", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    refresh()
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(actor=SYSTEM, customer=cs[1], data={"city": "深圳"})
    assert cs[1].pk in tag_sets()[quick.pk]
    assert cs[1].pk not in tag_sets()[slow.pk]  # waits for the next refresh
    assert TagHistory.objects.filter(tag=quick, customer_id=cs[1].pk, action="add").count() == 1
    assert_scores_are_sums()


def test_merging_customers_keeps_the_manual_tags_of_both(make_tag):
    cs = people(2)
    vip = make_tag("贵宾", kind="manual", score=7)
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[cs[1].pk])
    customer_services.customer_merge(actor=SYSTEM, keep=cs[0], other=cs[1])
    assert tag_sets()[vip.pk] == {cs[0].pk}
    cs[0].refresh_from_db()
    assert cs[0].quality_score == 7
    assert_scores_are_sums()


def test_a_rule_writer_keeps_their_masking_limits(make_tag):
    from shoal.accounts.models import MaskingPolicy
    from shoal.core import parameters
    from tests.conftest import make_user

    parameters.set_value("MASKING_ENABLED", True)
    writer = make_user("rulewriter", masking_policy=MaskingPolicy.MASK_ALL)
    tag = make_tag("号段", rules=[])
    with pytest.raises(ShoalError) as error:
        services.rule_create(actor=writer, tag=tag, data={"query": {"field": "mobile", "op": "starts_with",
                                                                     "value": "+86138"}})
    assert error.value.code == "masked_field"
    services.rule_create(actor=SYSTEM, tag=tag, data={"query": {"field": "mobile", "op": "starts_with", "value": "+86138"}})


def test_the_nightly_job_removes_taggings_of_customers_deleted_behind_the_orm(make_tag):
    from django.db import connection

    from shoal.tags.registry import expire_job

    cs = people(2)
    tag = make_tag("贵宾", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[c.pk for c in cs])
    with connection.cursor() as cursor:  # as a script might: the customer's own rows, then the customer
        for table in ("customers_timelineentry", "customers_customergroupmembership"):
            cursor.execute(f"DELETE FROM {table} WHERE customer_id = %s", [cs[0].pk])
        cursor.execute("DELETE FROM customers_customer WHERE id = %s", [cs[0].pk])
    result = expire_job()
    assert result["orphans_removed"] == 1
    assert tag_sets()[tag.pk] == {cs[1].pk}
    tag.refresh_from_db()
    assert tag.customer_count == 1


def test_deleting_customers_through_the_service_removes_their_taggings(make_tag):
    cs = people(2)
    tag = make_tag("贵宾", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[c.pk for c in cs])
    customer_services.customer_delete(actor=SYSTEM, customer=cs[0])
    assert tag_sets()[tag.pk] == {cs[1].pk}


def test_converting_a_custom_field_stamps_the_customers_it_changes():
    """The incremental refresh re-reads customers by updated_at: a type conversion of a custom field is a write."""
    from shoal.customers.models import CustomField

    CustomField.objects.create(key="level", label="等级", type="text")
    customer = customer_services.customer_create(actor=SYSTEM, data={"mobile": "13800000001",
                                                                    "attributes": {"level": "12"}})
    before = customer.updated_at
    customer_services.custom_field_update(actor=SYSTEM, definition=CustomField.objects.get(key="level"),
                                          data={"type": "integer"})
    customer.refresh_from_db()
    assert customer.attributes["level"] == 12 and customer.updated_at > before


def test_a_first_full_pass_of_a_tag_with_a_validity_drops_and_rebuilds_the_expiry_index_too(make_tag, monkeypatch):
    from shoal.tags import refresh as refresh_module
    from shoal.tags import store

    monkeypatch.setattr(refresh_module, "INDEXES_AFTER", 0)
    cs = people()
    sz = make_tag("深圳七天", score=1, valid_days=7, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    indexes = sorted(name for name, _sql in store.secondary_indexes())
    dropped = []
    drop = store.drop_indexes
    monkeypatch.setattr(store, "drop_indexes", lambda found: (dropped.extend(found), drop(found)))
    refresh()
    assert sorted(name for name, _sql in dropped) == indexes
    assert sorted(name for name, _sql in store.secondary_indexes()) == indexes
    assert set(Tagging.objects.filter(tag=sz, expires_at__isnull=False).values_list("customer_id", flat=True)) == {
        cs[0].pk, cs[3].pk}
    assert_scores_are_sums()


def test_a_first_full_pass_into_empty_taggings_builds_their_indexes_afterwards(make_tag, monkeypatch):
    from shoal.tags import refresh as refresh_module
    from shoal.tags import store

    monkeypatch.setattr(refresh_module, "INDEXES_AFTER", 0)
    cs = people()
    sz = make_tag("深圳客户", score=5, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    ads = make_tag("广告客户", score=-2, rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}}])
    indexes = sorted(name for name, _sql in store.secondary_indexes())
    assert "tagging_customer_idx" in indexes
    dropped = []
    drop = store.drop_indexes
    monkeypatch.setattr(store, "drop_indexes", lambda found: (dropped.extend(found), drop(found)))
    result = refresh()
    # the first pass into an empty table dropped them, except the partial expiry index none of its rows enters
    assert sorted(name for name, _sql in dropped) == [name for name in indexes if name != "tagging_expiry_idx"]
    assert sorted(name for name, _sql in store.secondary_indexes()) == indexes  # and built them again
    assert set(result["phases"]) >= {"evaluate", "write", "history", "scores", "indexes"}
    assert tag_sets() == {sz.pk: {cs[0].pk, cs[3].pk}, ads.pk: {c.pk for c in cs[1::2]}}
    assert len(history_rows(action="add")) == 5
    assert_scores_are_sums()
    dropped.clear()
    customer_services.customer_update(actor=SYSTEM, customer=cs[1], data={"city": "深圳"})
    refresh(full=True)  # the table is not empty now: the indexes stay
    assert dropped == [] and tag_sets()[sz.pk] == {cs[0].pk, cs[1].pk, cs[3].pk}
    assert_scores_are_sums()


@pytest.mark.parametrize("existing_row", [False, True])
def test_a_first_full_pass_writes_the_scores_of_fresh_customers_at_once_and_upserts_when_a_row_exists(
        make_tag, monkeypatch, existing_row):
    """PostgreSQL copies a first pass's score rows (every score is 0 before it); a score row already there (0: a
    customer whose tags went) makes that range upsert instead, and the next ranges too. Either way each score is
    the sum of the customer's tags."""
    from django.db import connection

    from shoal.customers.quality import set_scores
    from shoal.tags import refresh as refresh_module
    from shoal.tags import store

    monkeypatch.setattr(refresh_module, "INDEXES_AFTER", 0)
    monkeypatch.setattr(refresh_module, "RANGE", 2)  # three ranges
    cs = people()
    if existing_row:
        set_scores({cs[0].pk: 0})
    copied = []
    copy = store._copy_scores
    monkeypatch.setattr(store, "_copy_scores", lambda pairs: copied.append(copy(pairs)) or copied[-1])
    make_tag("深圳客户", score=5, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    make_tag("广告客户", score=-2, rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}}])
    refresh()
    assert_scores_are_sums()
    if connection.vendor == "postgresql":
        assert copied == ([False] if existing_row else [True, True, True])
    else:
        assert copied == []
