"""Pool rules (group rules, a group's assignment and recycle rules): validation, writes, and the customers
a rule takes (:func:`pool_rule_q`)."""

from __future__ import annotations

from django.db.models import Q

from shoal.segments.catalog import field_catalog
from shoal.tags import rules as tag_rules


def pool_rule_q(rule, catalog=None) -> Q:
    """The customers a pool rule matches (condition tree and/or custom SQL, include/exclude tags), through the
    query engine as tag rules are. System level: no scope, no masking. The caller adds where the customer is
    (source group, group public sea, not in the recycle bin...)."""
    return tag_rules.rule_q(rule, catalog if catalog is not None else field_catalog())
