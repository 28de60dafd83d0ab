"""The customers' quality scores (``CustomerQuality``: the sum of the scores of a customer's current tags, kept by
the tags app; no row means 0): the one way to read them, as a queryset expression, as SQL or for a set of ids.

Every reader goes through here: the customer outputs, the list column and its sort, the condition field
``quality_score`` (conditions, custom SQL), the pools' order (assignment, requests, the group sea), the follow-up
workspace's order and the export. The expression is a scalar subquery on the score table's key, not a join: a
condition such as ``quality_score < 5`` must hold for customers without a row, and a page of 20 customers reads
20 keys whatever plan the rest of the query takes."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, IntegerField, OrderBy, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

TABLE = "customers_customerquality"


class QualityScore(Coalesce):
    """:func:`quality_expr`'s expression: a sort by it is recognised (:func:`score_order`)."""


def quality_expr(customer: str = "pk") -> Coalesce:
    """The score of the customer ``customer`` (a path from the queryset's model: ``"pk"`` on customers,
    ``"customer_id"`` on tasks), 0 without a row."""
    from .models import CustomerQuality

    score = CustomerQuality.objects.filter(customer_id=OuterRef(customer)).values("score")[:1]
    expression = QualityScore(Subquery(score, output_field=IntegerField()), Value(0), output_field=IntegerField())
    expression.customer_path = customer
    return expression


def score_order(order) -> bool | None:
    """``order`` (a customer queryset's ``query.order_by``) is by score then id descending, as the customer list
    and the advanced query sort a column: True descending, False ascending; None: some other order."""
    if len(order) != 2 or not isinstance(order[0], OrderBy) or not isinstance(order[0].expression, QualityScore):
        return None
    if getattr(order[0].expression, "customer_path", None) != "pk":
        return None
    tie = order[1]
    if not (tie in ("-pk", "-id") or (isinstance(tie, OrderBy) and tie.descending and isinstance(tie.expression, F)
                                      and tie.expression.name in ("pk", "id"))):
        return None
    return order[0].descending


WALK_FIRST = 2_000  # score rows read by the first look of a walk (then 8× more each time)
WALK_MAX = 128_000  # score rows a walk reads at most before the plain sort is used
PAGE_MAX = 10_000  # the deepest row a walk serves


def score_page_ids(qs, start: int, stop: int) -> list[int] | None:
    """The ids of rows [start, stop) of the customers ``qs`` (scoped, filtered) when it is sorted by score then id
    descending (:func:`score_order`), read from the score index (``customer_quality_score_idx``) rather than the
    score of every customer sorted (1M customers on SQLite: 2.2 s a page). The highest (lowest) scores come first:
    the customers with a positive (negative) score are walked in order from that end, each look reading the next
    rows and keeping those ``qs`` holds, until the page is full. None when ``qs`` is sorted otherwise or a walk
    cannot tell: the page reaches the customers scored 0 (most have no row), it lies deeper than ``PAGE_MAX``, or
    ``WALK_MAX`` rows gave too few of ``qs``'s customers (a narrow filter: then sorting its few matches is quick)."""
    from .models import CustomerQuality

    descending = score_order(qs.query.order_by)
    if descending is None or stop > PAGE_MAX or start >= stop:
        return None
    rows = CustomerQuality.objects.filter(score__gt=0) if descending else CustomerQuality.objects.filter(score__lt=0)
    rows = rows.order_by("-score" if descending else "score", "-customer_id").values_list("customer_id", flat=True)
    found: list[int] = []
    read, size = 0, WALK_FIRST
    while True:
        look = rows[read:size]
        ids = list(look)
        # those ``qs`` holds, the look again as a subquery (no ids sent: a JSON / array parameter is a table
        # function, which the advanced query's read-only guard on SQLite refuses, and SQLite caps parameters)
        kept = set(qs.order_by().filter(pk__in=look).values_list("pk", flat=True)) if ids else set()
        found += [pk for pk in ids if pk in kept]
        if len(found) >= stop:
            return found[start:stop]
        if read + len(ids) < size or size >= WALK_MAX:  # the scores of that sign ran out; or too few match
            return None
        read, size = size, min(size * 8, WALK_MAX)


def with_quality(qs, name: str = "quality_score"):
    """``qs`` (customers) with their score as the attribute ``name``."""
    return qs.annotate(**{name: quality_expr()})


def quality_sql(customer_id: str) -> str:
    """SQL for the score of the customer whose id is the SQL expression ``customer_id``."""
    return f"COALESCE((SELECT q.score FROM {TABLE} q WHERE q.customer_id = {customer_id}), 0)"


def scores(customer_ids: Iterable[int]) -> dict[int, int]:
    """customer id → score (0 for those without a row)."""
    from .models import CustomerQuality

    ids = list(customer_ids)
    found = dict(CustomerQuality.objects.filter(customer_id__in=ids).values_list("customer_id", "score"))
    return {pk: found.get(pk, 0) for pk in ids}


def fill_scores(customers: Iterable) -> list:
    """The customers (instances), those whose score is not loaded yet given it, in one query."""
    customers = list(customers)
    missing = [c for c in customers if c.pk is not None and "_quality_score" not in c.__dict__]
    if missing:
        found = scores(c.pk for c in missing)
        for c in missing:
            c.quality_score = found[c.pk]
    return customers


def score_of(customer_id: int) -> int:
    return scores([customer_id])[customer_id]


def set_scores(values: dict[int, int]) -> None:
    """Set these customers' scores as given (test and benchmark worlds; the tags app adds its changes with
    ``tags.store.add_scores``)."""
    from .models import CustomerQuality

    CustomerQuality.objects.bulk_create([CustomerQuality(customer_id=pk, score=score) for pk, score in values.items()],
                                        update_conflicts=True, unique_fields=["customer"], update_fields=["score"],
                                        batch_size=5_000)


def reset_scores() -> None:
    """Every score back to 0 (benchmarks that redo a first refresh)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}" if connection.vendor == "sqlite" else f"TRUNCATE {TABLE}")


def score_mismatches_sql() -> str:
    """SQL counting the customers whose score differs from the sum of their current tags' scores."""
    return ("SELECT COUNT(*) FROM customers_customer c LEFT JOIN (SELECT g.customer_id, SUM(t.score) AS s "
            "FROM tags_tagging g JOIN tags_tag t ON t.id = g.tag_id GROUP BY g.customer_id) x "
            f"ON x.customer_id = c.id WHERE {quality_sql('c.id')} <> COALESCE(x.s, 0)")
