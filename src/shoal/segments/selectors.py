"""Reads: customers matching a condition tree / custom SQL / keyword, inside the caller's data scope."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext

from shoal.core.errors import ShoalError
from shoal.customers.jsonkeys import plain_key_paths
from shoal.customers.masking import masked_field_keys
from shoal.customers.quality import score_page_ids
from shoal.customers.selectors import customer_queryset, customer_search_q

from .catalog import field_catalog, field_expression
from .compiler import compile_tree
from .masked import check_sort, check_sql, check_tree
from .models import SavedQuery
from .sql import parse_sql, sql_condition
from .tree import parse


def validate(*, query=None, sql: str | None = None, catalog=None, masked=frozenset(), viewer=None) -> None:
    """``masked``: the field keys masked for the caller (``masking.masked_field_keys``), usable only exactly.
    ``viewer``: the acting user, for what only some users may use (a personal tag: its owner); None is
    the system level (tag rules), where no personal tag may be used."""
    catalog = catalog if catalog is not None else field_catalog()
    if query is None and not sql:
        raise ShoalError("invalid_condition", gettext("Give a condition tree (query) or custom SQL (sql)"))
    if query is not None:
        check_tree(parse(query, catalog, viewer=viewer), masked, catalog=catalog)
    if sql:
        check_sql(parse_sql(sql, catalog, viewer=viewer), masked, catalog=catalog)


def condition_q(*, query=None, sql: str | None = None, catalog=None, masked=frozenset(), viewer=None) -> Q:
    """The condition as a ``Q`` (checked as :func:`validate` checks it)."""
    catalog = catalog if catalog is not None else field_catalog()
    q = Q()
    if query is not None:
        node = parse(query, catalog, viewer=viewer)
        check_tree(node, masked, catalog=catalog)
        q &= compile_tree(node)
    if sql:
        check_sql(parse_sql(sql, catalog, viewer=viewer), masked, catalog=catalog)
        q &= sql_condition(sql, catalog, viewer=viewer)
    return q


def order_by(sort: list[dict] | None, catalog, masked=frozenset()) -> list:
    check_sort(sort, masked, catalog=catalog)
    ordering = []
    for i, item in enumerate(sort or []):
        if not isinstance(item, dict) or item.get("field") not in catalog or item.get("dir", "asc") not in ("asc", "desc"):
            raise ShoalError("invalid_sort", gettext("sort[%(i)s]: give a known field and dir asc or desc") % {"i": i},
                             {"path": f"$.sort[{i}]"})
        spec = catalog[item["field"]]
        expr = F(spec.column) if not spec.is_json else F(f"attributes__{spec.key}")
        expr = field_expression(spec) or expr
        desc = item.get("dir", "asc") == "desc"
        if spec.is_json or spec.nullable:  # empty values last, both ways
            ordering.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True))
        else:  # plain ORDER BY, so an index on the column serves it
            ordering.append(expr.desc() if desc else expr.asc())
    if not ordering:
        ordering = [F("created_at").desc(), F("id").desc()]
    else:
        ordering.append(F("id").desc())
    return ordering


def segment_queryset(*, actor, query=None, sql: str | None = None, keyword: str | None = None,
                     sort: list[dict] | None = None) -> QuerySet:
    """The customers in ``actor``'s scope matching everything given, sorted."""
    catalog = field_catalog()
    masked = masked_field_keys(viewer=actor)
    qs = customer_queryset(actor=actor)
    if query is not None or sql:
        qs = qs.filter(condition_q(query=query, sql=sql, catalog=catalog, masked=masked, viewer=actor))
    if keyword and keyword.strip():
        qs = qs.filter(customer_search_q(keyword))
    return qs.order_by(*order_by(sort, catalog, masked))


INDEX_PAGE_MAX = 5000  # SQLite: up to this many matches, fetch them by index and sort; beyond, scan in order


def segment_page(qs: QuerySet, *, start: int, size: int, total: int) -> list:
    """One page of ``qs`` (already counted: ``total``).

    SQLite has no statistics for JSON expression indexes and would fetch every match through one
    and sort them even when thousands match; then walking the created-time index and stopping after
    the page is far faster (1M customers, 76% matching: 8.6 s → 7 ms). Few matches: the index wins."""
    if start >= total:
        return []
    ids = score_page_ids(qs, start, start + size)  # sorted by score: the score index walked from the page's end
    if ids is not None:
        by_id = qs.order_by().in_bulk(ids)
        return [by_id[pk] for pk in ids if pk in by_id]
    if connection.vendor == "sqlite" and total > INDEX_PAGE_MAX:
        with plain_key_paths():
            return list(qs[start:start + size])
    return list(qs[start:start + size])


def saved_query_list(*, actor) -> QuerySet[SavedQuery]:
    return SavedQuery.objects.filter(Q(owner=actor) | Q(shared=True)).select_related("owner")
