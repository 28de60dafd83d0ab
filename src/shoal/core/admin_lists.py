"""Cheaper list pages (admin changelists) at 20-100 rows × many columns.

unfold's ``items_for_result`` recomputes every column header (labels, three query strings per sortable column,
the select-all checkbox rendered through the template engine) for each row: 20 rows re-render the headers 20
times. :func:`install` makes ``result_headers`` compute them once per changelist (the headers depend on the
changelist alone). :func:`row_checkbox` renders a row's selection checkbox from a template rendered once.
"""

from __future__ import annotations

from django.contrib.admin import helpers
from django.db import models
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


# -- the cells of a page, planned once per page ------------------------------------------------------------------
def _coerce_field_name(field_name, field_index: int) -> str:
    """A column's name as Django's admin writes it in the cell's class (its private helper of that name)."""
    if callable(field_name):
        return "lambda" + str(field_index) if field_name.__name__ == "<lambda>" else field_name.__name__
    return field_name


def _get_non_gfk_field(opts, name):
    """The model field a column names, as Django's admin finds it (its private helper of that name): generic
    foreign keys and reverse relations are not fields here, and ``<fk>_id`` is not its foreign key."""
    from django.contrib.admin.utils import FieldIsAForeignKeyColumnName
    from django.core.exceptions import FieldDoesNotExist

    field = opts.get_field(name)
    if field.is_relation and ((field.many_to_one and not field.related_model) or field.one_to_many):
        raise FieldDoesNotExist()
    if field.is_relation and not field.many_to_many and hasattr(field, "attname") and field.attname == name:
        raise FieldIsAForeignKeyColumnName()
    return field


class _Column:
    """How one column's cells are read and drawn, decided once per changelist (unfold decides it per cell)."""

    __slots__ = ("name", "field", "attr", "kind", "empty", "row_class", "nowrap_class", "missing_class", "label_html", "boolean",
                 "label", "dropdown", "header")

    def __init__(self, cl, index: int, name, headers, empty):
        from django.contrib.admin.utils import FieldIsAForeignKeyColumnName
        from django.core.exceptions import FieldDoesNotExist
        from django.utils.html import conditional_escape
        from django.utils.translation import gettext
        from unfold.templatetags.unfold_list import CHECKBOX_CLASSES, ROW_CLASSES

        model_admin = cl.model_admin
        self.name, self.field, self.attr = name, None, None
        try:
            self.field = _get_non_gfk_field(cl.lookup_opts, name)
            self.kind = "field"
        except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
            if callable(name):
                self.kind, self.attr = "call", name
            elif hasattr(model_admin, name) and name != "__str__":
                self.kind, self.attr = "call", getattr(model_admin, name)
            else:
                self.kind = "generic"  # an attribute of the object: Django's lookup per cell
        base = [f"field-{_coerce_field_name(name, index)}", *ROW_CLASSES]
        hidden = ["!hidden"] if (getattr(model_admin, "ordering_field", None) and name == model_admin.ordering_field
                                 and getattr(model_admin, "hide_ordering_field", False)) else []
        field = self.field
        if field is None or field.auto_created:  # a value: nowrap when this cell's value is a date or a time
            if name == "action_checkbox":
                base = list(CHECKBOX_CLASSES)
            self.row_class = f' class="{" ".join([*base, *hidden])}"'
            self.nowrap_class = f' class="{" ".join([*base, "nowrap", *hidden])}"'
        else:
            nowrap = ["nowrap"] if isinstance(field, models.DateField | models.TimeField | models.ForeignKey) else []
            self.row_class = self.nowrap_class = f' class="{" ".join([*base, *nowrap, *hidden])}"'
        # a related object that does not exist: the plain classes, the empty value
        self.missing_class = f' class="{" ".join([f"field-{_coerce_field_name(name, index)}", *ROW_CLASSES, *hidden])}"'
        text = headers[index]["text"] if index != 0 else gettext("Select record")
        self.label_html = str(conditional_escape(text))
        self.empty = empty
        attr = self.attr
        self.boolean = getattr(attr, "boolean", False)
        self.label = getattr(attr, "label", False)
        self.dropdown = getattr(attr, "dropdown", False)
        self.header = getattr(attr, "header", False)


def lookup_field(column: _Column, obj, model_admin):
    """``(field, attr, value)`` of ``column`` for ``obj``: what ``django.contrib.admin.utils.lookup_field`` answers,
    with the column's kind decided once per page."""
    if column.kind == "field":
        return column.field, None, getattr(obj, column.name)
    if column.kind == "call":
        return None, column.attr, column.attr(obj)
    from django.contrib.admin.utils import lookup_field as django_lookup_field

    return django_lookup_field(column.name, obj, model_admin)


def _plan(cl) -> list[_Column] | None:
    """The columns of ``cl``, or None when unfold's own cells are needed (links in cells, editable lists)."""
    plan = getattr(cl, "_shoal_cell_plan", False)
    if plan is not False:
        return plan
    plan = None
    if cl.list_display_links is None and not getattr(cl, "formset", None):
        from unfold.templatetags import unfold_list

        headers = list(unfold_list.result_headers(cl))
        model_admin = cl.model_admin
        plan = []
        for index, name in enumerate(cl.list_display):
            empty = model_admin.get_empty_value_display()
            plan.append(_Column(cl, index, name, headers, empty))
        for column in plan:
            if column.kind != "field":
                column.empty = getattr(column.attr, "empty_value_display", column.empty)
    try:
        cl._shoal_cell_plan = plan
    except AttributeError:  # pragma: no cover
        pass
    return plan


def _cell(column: _Column, obj, model_admin) -> str:
    import datetime

    from django.core.exceptions import ObjectDoesNotExist
    from django.utils.html import conditional_escape
    from unfold.templatetags.unfold_list import (
        display_for_dropdown,
        display_for_field,
        display_for_header,
        display_for_label,
        display_for_value,
    )

    row_class = column.row_class
    try:
        f, attr, value = lookup_field(column, obj, model_admin)
    except ObjectDoesNotExist:
        result_repr, row_class = model_admin.get_empty_value_display(), column.missing_class
    else:
        if f is None or f.auto_created:
            empty = column.empty if column.kind != "generic" else getattr(
                attr, "empty_value_display", model_admin.get_empty_value_display())
            if column.kind == "generic":
                boolean, label = getattr(attr, "boolean", False), getattr(attr, "label", False)
                dropdown, header = getattr(attr, "dropdown", False), getattr(attr, "header", False)
            else:
                boolean, label, dropdown, header = column.boolean, column.label, column.dropdown, column.header
            if label:
                result_repr = display_for_label(value, empty, label)
            elif dropdown:
                result_repr = display_for_dropdown(obj, column.name, value, empty)
            elif header:
                result_repr = display_for_header(value, empty)
            else:
                result_repr = display_for_value(value, empty, boolean)
            if isinstance(value, datetime.date | datetime.time):
                row_class = column.nowrap_class
        else:
            if isinstance(f.remote_field, models.ManyToOneRel):
                field_val = getattr(obj, f.name)
                result_repr = column.empty if field_val is None else field_val
            else:
                result_repr = display_for_field(value, f, column.empty)
    return f'<td{row_class} data-label="{column.label_html}">{conditional_escape(result_repr)}</td>'


def fast_cells(cl, result, form):
    """The cells of one row: the same HTML as unfold's ``items_for_result``, from the page's plan (unfold's own
    function when the plan does not cover the list: links in cells, editable lists, a row with a form)."""
    plan = _plan(cl) if form is None else None
    if plan is None:
        yield from _original_items_for_result(cl, result, form)
        return
    model_admin = cl.model_admin
    for column in plan:
        yield mark_safe(_cell(column, result, model_admin))


_original_items_for_result = None


def install_fast_cells() -> None:
    global _original_items_for_result
    from unfold.templatetags import unfold_list

    if getattr(unfold_list.items_for_result, "shoal_fast", False):
        return
    _original_items_for_result = unfold_list.items_for_result
    fast_cells.shoal_fast = True
    unfold_list.items_for_result = fast_cells
