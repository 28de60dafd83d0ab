"""Shared by the tags tests: a category, tag factories, and the quality-score invariant."""

import pytest
from django.db.models import Sum

from shoal.core.actors import SYSTEM
from shoal.customers.models import Customer
from shoal.customers.quality import with_quality
from shoal.tags import services
from shoal.tags.models import TagCategory, Tagging


@pytest.fixture
def category(db):
    return TagCategory.objects.create(name="行为")


@pytest.fixture
def make_tag(category):
    def make(name, kind="auto", score=0, rules=(), **extra):
        tag = services.tag_create(actor=SYSTEM, data={"name": name, "category_id": category.pk, "kind": kind,
                                                      "score": score, **extra})
        for rule in rules:
            services.rule_create(actor=SYSTEM, tag=tag, data=rule)
        return tag
    return make


def tag_sets() -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for tag_id, customer_id in Tagging.objects.values_list("tag_id", "customer_id"):
        out.setdefault(tag_id, set()).add(customer_id)
    return out


def assert_scores_are_sums():
    """Every customer's quality score equals the sum of its current tags' scores."""
    sums = {row["customer_id"]: row["total"] for row in
            Tagging.objects.values("customer_id").annotate(total=Sum("tag__score"))}
    for pk, score in with_quality(Customer.objects).values_list("pk", "quality_score"):
        assert score == sums.get(pk, 0), (pk, score, sums.get(pk, 0))


def history(**filters) -> list[dict]:
    """The tag history as its readers see it (the history table's rows and the adds their taggings still
    carry), oldest first; ``filters`` as ``HistoryFeed.filter`` (customer_id, tag_id, source, action…). Ids are
    unique across both."""
    from shoal.tags.selectors import history_feed

    feed = history_feed(actor=SYSTEM).filter(**filters)
    rows = list(reversed(feed[0:feed.count()]))
    assert len({r["id"] for r in rows}) == len(rows), "a history id twice"
    return rows
