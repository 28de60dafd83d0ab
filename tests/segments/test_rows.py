"""UI rows (segments.rows): AND binds tighter than OR, parentheses as written, unbalanced ones name the row."""

import pytest

from shoal.core.errors import ShoalError
from shoal.segments.rows import rows_to_tree


def test_rows_and_binds_tighter_than_or():
    a, b, c = ({"field": f, "op": "is_empty"} for f in "abc")
    rows = [{**a, "logic": "or"}, {**b, "logic": "and"}, c]
    assert rows_to_tree(rows) == {"any": [a, {"all": [b, c]}]}
    rows = [{**a, "lparen": "(", "logic": "or"}, {**b, "rparen": ")", "logic": "and"}, c]
    assert rows_to_tree(rows) == {"all": [{"any": [a, b]}, c]}


@pytest.mark.parametrize("rows, row", [
    ([{"field": "a", "op": "is_empty", "lparen": "(", "logic": "and"}, {"field": "b", "op": "is_empty"}], 1),
    ([{"field": "a", "op": "is_empty", "logic": "and"}, {"field": "b", "op": "is_empty", "rparen": ")"}], 2),
])
def test_unbalanced_parentheses_name_the_row(rows, row):
    with pytest.raises(ShoalError) as exc:
        rows_to_tree(rows)
    assert exc.value.detail["row"] == row
