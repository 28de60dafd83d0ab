"""Which customers a pool rule matches, and the locks the runs take.

The compiler is the pools rules service's :func:`pool_rule_q` (condition tree / custom SQL / include and
exclude tags through the query engine, as tag rules are)."""

from __future__ import annotations

from django.db.models import Q


def catalog():
    from shoal.segments.catalog import field_catalog

    return field_catalog()


def rule_q(rule, fields=None) -> Q:
    """The customers ``rule`` matches (a Q over Customer). System level: no scope, no masking."""
    from shoal.pools.services.rules import pool_rule_q

    return pool_rule_q(rule, fields)


def has_condition(rule) -> bool:
    return bool(rule.query is not None or rule.sql or rule.include_tags or rule.exclude_tags)


def lock_groups(*group_ids) -> None:
    """Take the rows of these groups for the caller's transaction (PostgreSQL: FOR UPDATE, in id order so
    two runs cannot deadlock; SQLite: its write transaction already excludes other writers). Every run that
    moves customers of a group holds it: two workers running the same job take turns, and the second one
    sees what the first committed."""
    from shoal.customers.models import CustomerGroup

    ids = sorted({g for g in group_ids if g is not None})
    if ids:
        list(CustomerGroup.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
