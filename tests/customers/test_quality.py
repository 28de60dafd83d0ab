"""The quality score lives in its own table (customers.CustomerQuality, no row = 0): every reader sees 0 for a
customer without a row, in conditions, custom SQL, sorts, outputs and the export."""

import pytest

from shoal.core.actors import SYSTEM
from shoal.customers import services
from shoal.customers.models import Customer, CustomerQuality
from shoal.customers.quality import scores, set_scores, with_quality
from shoal.segments.selectors import segment_queryset

pytestmark = pytest.mark.django_db


@pytest.fixture
def three():
    cs = [services.customer_create(actor=SYSTEM, data={"name": f"客户{i}", "mobile": f"1380013{i:04d}"})
          for i in range(3)]
    set_scores({cs[0].pk: 7, cs[1].pk: -3})  # cs[2]: no row
    return cs


def _names(qs):
    return sorted(qs.values_list("name", flat=True))


def test_a_customer_without_a_score_row_has_0_everywhere(three):
    a, b, c = three
    assert not CustomerQuality.objects.filter(customer=c).exists()
    assert [Customer.objects.get(pk=x.pk).quality_score for x in three] == [7, -3, 0]
    assert dict(with_quality(Customer.objects).values_list("name", "quality_score")) == {
        "客户0": 7, "客户1": -3, "客户2": 0}
    assert scores([a.pk, c.pk]) == {a.pk: 7, c.pk: 0}


@pytest.mark.parametrize(("query", "expected"), [
    ({"field": "quality_score", "op": "eq", "value": 0}, ["客户2"]),
    ({"field": "quality_score", "op": "lt", "value": 1}, ["客户1", "客户2"]),
    ({"field": "quality_score", "op": "ne", "value": 7}, ["客户1", "客户2"]),
    ({"field": "quality_score", "op": "between", "value": [-3, 0]}, ["客户1", "客户2"]),
    ({"field": "quality_score", "op": "in", "value": [0, 7]}, ["客户0", "客户2"]),
    ({"field": "quality_score", "op": "is_empty"}, []),
    ({"not": {"field": "quality_score", "op": "gte", "value": 0}}, ["客户1"]),
])
def test_conditions_on_the_quality_score_count_a_missing_row_as_0(three, query, expected):
    assert _names(segment_queryset(actor=None, query=query)) == expected


def test_custom_sql_and_sorts_read_the_score(three):
    assert _names(segment_queryset(actor=None, sql="quality_score = 0 OR quality_score > 5")) == ["客户0", "客户2"]
    ordered = segment_queryset(actor=None, sort=[{"field": "quality_score", "dir": "desc"}])
    assert list(ordered.values_list("name", flat=True)) == ["客户0", "客户2", "客户1"]


def test_the_score_row_goes_with_its_customer(three):
    services.customer_delete(actor=None, customer=three[0])
    assert not CustomerQuality.objects.filter(customer_id=three[0].pk).exists()


@pytest.mark.parametrize("fresh", [False, True])
def test_score_deltas_of_any_size_add_up_and_skip_customers_that_are_gone(three, fresh):
    """``tags.store.add_score_pairs``: small deltas go packed into one integer per row on SQLite, larger ones (past
    ±2**20) as pairs; either way they add to the rows there, create the missing ones, and (unless ``fresh``: the
    caller checked the customers) leave out a customer that does not exist."""
    from shoal.tags import store

    a, b, c = three
    gone = [] if fresh else [(c.pk + 1000, 4)]  # no such customer
    small = [(a.pk, 3), (b.pk, -(2**20 - 1)), (c.pk, 2**20 - 1), *gone]  # packed
    store.add_score_pairs(small, fresh=fresh)
    assert scores([a.pk, b.pk, c.pk]) == {a.pk: 10, b.pk: -3 - (2**20 - 1), c.pk: 2**20 - 1}
    large = [(a.pk, -10), (b.pk, 2**20), (c.pk, -(2**22)), *gone]  # as pairs
    store.add_score_pairs(large, fresh=fresh)
    assert scores([a.pk, b.pk, c.pk]) == {a.pk: 0, b.pk: -2, c.pk: 2**20 - 1 - 2**22}
    assert not CustomerQuality.objects.filter(customer_id=c.pk + 1000).exists()


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("narrowed", [False, True])
def test_pages_sorted_by_score_read_from_the_score_index_match_the_full_sort(monkeypatch, descending, narrowed):
    """Every page of a list sorted by score (then id, descending), read by walking the score index from the page's
    end, equals the same page of the plain sort: positive, negative and 0 scores, customers without a row, ties,
    a filter that keeps some of them; where a walk cannot tell (the page reaches the 0s, too few matches among the
    rows it may read) the plain sort answers."""
    import random

    from shoal.customers import quality
    from shoal.customers.selectors import customer_page_rows
    from shoal.segments.selectors import segment_page

    monkeypatch.setattr(quality, "WALK_FIRST", 3)  # several looks, then giving up, on a small world
    monkeypatch.setattr(quality, "WALK_MAX", 24)
    walked = []
    original = quality.score_page_ids

    def spy(*args):
        answer = original(*args)
        walked.append(answer is not None)
        return answer

    monkeypatch.setattr(quality, "score_page_ids", spy)
    monkeypatch.setattr("shoal.customers.selectors.score_page_ids", spy)
    monkeypatch.setattr("shoal.segments.selectors.score_page_ids", spy)
    rng = random.Random(7)
    cs = [services.customer_create(actor=SYSTEM, data={"name": f"客户{i}", "mobile": f"1380013{i:04d}",
                                                       "city": rng.choice(["上海", "北京"])}) for i in range(60)]
    set_scores({c.pk: rng.choice([-3, -1, 0, 2, 2, 5, 9]) for c in cs if rng.random() < 0.8})
    query = {"field": "city", "op": "eq", "value": "上海"} if narrowed else None
    qs = segment_queryset(actor=None, query=query, sort=[{"field": "quality_score", "dir": "desc" if descending else "asc"}])
    got = scores(c.pk for c in cs)
    kept = [c for c in cs if not narrowed or c.city == "上海"]
    # the plain sort: by score, then id descending
    expected = [c.pk for c in sorted(kept, key=lambda c: ((-got[c.pk] if descending else got[c.pk]), -c.pk))]
    for size in (1, 4, 7):
        for start in range(0, len(expected) + 2, size):
            page = [c.pk for c in customer_page_rows(actor=None, qs=qs, offset=start, limit=size, total=len(expected))]
            assert page == expected[start:start + size], (size, start)
            assert [c.pk for c in segment_page(qs, start=start, size=size, total=len(expected))] == page
    assert any(walked) and not all(walked)  # pages served by walks, and by the plain sort where a walk could not
