"""What the tags app plugs into: menus, pages, jobs, condition keys, the customer timeline."""
from . import conditions  # noqa: F401  (tags_any/tags_all/tags_none, has_tag(), the query page's tag pickers)
