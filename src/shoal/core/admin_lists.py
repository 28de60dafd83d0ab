"""Cheaper list pages (admin changelists) at 20-100 rows × many columns.

unfold's ``items_for_result`` recomputes every column header (labels, three query strings per sortable column,
the select-all checkbox rendered through the template engine) for each row: 20 rows re-render the headers 20
times. :func:`install` makes ``result_headers`` compute them once per changelist (the headers depend on the
changelist alone). :func:`row_checkbox` renders a row's selection checkbox from a template rendered once.
"""

from __future__ import annotations

from django.contrib.admin import helpers
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import mark_safe

_PLACEHOLDER = "__shoal_pk__"
_checkbox_html: str | None = None


def install() -> None:
    from unfold.templatetags import unfold_list

    original = unfold_list.result_headers
    if getattr(original, "shoal_cached", False):
        return

    def result_headers(cl):
        cached = getattr(cl, "_shoal_result_headers", None)
        if cached is None:
            cached = list(original(cl))
            for header in cached:  # a lazy label: translated once, not escaped lazily in every cell
                if isinstance(header.get("text"), Promise):
                    header["text"] = str(header["text"])
            try:
                cl._shoal_result_headers = cached
            except AttributeError:  # pragma: no cover - a changelist that refuses attributes
                pass
        return iter([dict(h) for h in cached])

    result_headers.shoal_cached = True
    unfold_list.result_headers = result_headers


def row_checkbox(pk) -> str:
    """The same HTML as unfold's ``checkbox.render(ACTION_CHECKBOX_NAME, pk)``, without a template per row."""
    global _checkbox_html
    if _checkbox_html is None:
        from unfold.admin import checkbox

        _checkbox_html = str(checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PLACEHOLDER))
    return mark_safe(_checkbox_html.replace(_PLACEHOLDER, escape(str(pk))))
