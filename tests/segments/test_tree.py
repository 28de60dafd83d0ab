"""Condition trees (segments.tree): a bad tree names the bad node; nesting is bounded."""

import pytest

from shoal.core.errors import ShoalError
from shoal.segments.catalog import field_catalog
from shoal.segments.tree import parse


@pytest.mark.django_db
@pytest.mark.parametrize("tree, path", [
    ({"all": []}, "$.all"),
    ({"any": [{"field": "nope", "op": "eq", "value": 1}]}, "$.any[0]"),
    ({"all": [{"field": "name", "op": "eq", "value": "x"}, {"field": "name", "op": "gt", "value": "x"}]}, "$.all[1]"),
    ({"not": {"field": "birthday", "op": "eq", "value": "yesterday"}}, "$.not"),
    ({"field": "name", "op": "in", "value": "x"}, "$"),
    ({"field": "created_at", "op": "between", "value": ["2024-01-01"]}, "$"),
    ({"field": "name", "op": "is_empty", "value": "x"}, "$"),
    ({"foo": []}, "$"),
    ({"all": [{"any": [{"not": {"field": "name", "op": "eq", "value": 5}}]}]}, "$.all[0].any[0].not"),
])
def test_bad_trees_name_the_bad_node(tree, path):
    with pytest.raises(ShoalError) as exc:
        parse(tree, field_catalog())
    assert exc.value.status == 400 and exc.value.detail["path"] == path


@pytest.mark.django_db
def test_nesting_deeper_than_ten_levels_is_refused():
    tree = {"field": "name", "op": "eq", "value": "x"}
    for _ in range(10):
        tree = {"not": tree}
    with pytest.raises(ShoalError) as exc:
        parse(tree, field_catalog())
    assert "10" in exc.value.message
