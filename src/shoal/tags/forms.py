"""The forms of the tag pages. They parse; the services check (their ``ShoalError`` becomes a form error)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from shoal.core.errors import ShoalError

from .models import ObjectType, TagCategory, TagKind

INPUT = "border border-base-200 rounded-default px-2 py-1 w-full max-w-xl dark:bg-base-900 dark:border-base-700"


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        if not isinstance(field.widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            field.widget.attrs.setdefault("class", INPUT)


def add_service_error(form: forms.Form, error: ShoalError) -> None:
    """A service's refusal as an error of the field it names (``detail.field``), else of the whole form."""
    field = (error.detail or {}).get("field") if isinstance(error.detail, dict) else None
    field = {"category_id": "category", "parent_id": "parent"}.get(field, field)
    form.add_error(field if field in form.fields else None, error.message)


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    object_type = forms.ChoiceField(label=_("object type"), choices=ObjectType.choices)
    parent = forms.TypedChoiceField(label=_("parent category"), required=False, coerce=int, empty_value=None)
    order = forms.IntegerField(label=_("display order"), initial=0, min_value=-(2**31 - 1), max_value=2**31 - 1)

    def __init__(self, *args, instance: TagCategory | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        below = set()
        if instance is not None:
            from .page_selectors import descendant_ids

            below = set(descendant_ids(instance))
        choices = [("", "—")]
        for category in TagCategory.objects.order_by("object_type", "order", "name"):
            if category.pk not in below:
                choices.append((category.pk, f"{ObjectType(category.object_type).label} / {category.name}"))
        self.fields["parent"].choices = choices
        _style(self)

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        return {"name": d["name"], "object_type": d["object_type"], "parent_id": d["parent"], "order": d["order"]}


class TagForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    category = forms.TypedChoiceField(label=_("category"), coerce=int)
    kind = forms.ChoiceField(label=_("kind"), choices=TagKind.choices)
    score = forms.IntegerField(label=_("score"), initial=0,
                               help_text=_("Added to the quality score of every customer with this tag; may be negative."))
    valid_days = forms.IntegerField(label=_("validity (days)"), required=False,
                                    help_text=_("Natural days; the tag ends at 00:00 after them. Empty: no end."))
    enabled = forms.BooleanField(label=_("enabled"), required=False, initial=True)
    refresh_on_change = forms.BooleanField(label=_("refresh on change"), required=False,
                                           help_text=_("Re-evaluate a customer's tag as soon as the customer changes."))
    description = forms.CharField(label=_("description"), required=False, max_length=500,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [
            (c.pk, f"{ObjectType(c.object_type).label} / {c.name}")
            for c in TagCategory.objects.order_by("object_type", "order", "name")]
        if editing:  # a personal tag stays personal and a global one global: the service says so if tried
            self.fields["kind"].help_text = _("A tag that customers have keeps its kind.")
        _style(self)

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        return {"name": d["name"], "category_id": d["category"], "kind": d["kind"], "score": d["score"],
                "valid_days": d["valid_days"], "enabled": d["enabled"], "refresh_on_change": d["refresh_on_change"],
                "description": d["description"]}


class RuleForm(forms.Form):
    """A rule as the editor posts it: condition rows (JSON, as written) or custom SQL, and the tag pickers."""

    MODES = [("rows", _("Conditions")), ("sql", _("Custom SQL"))]
    mode = forms.ChoiceField(choices=MODES, initial="rows")
    rows = forms.CharField(required=False, widget=forms.HiddenInput)
    sql = forms.CharField(label=_("custom SQL"), required=False, max_length=4000,
                          widget=forms.Textarea(attrs={"rows": 4}))
    include_tags = forms.TypedMultipleChoiceField(label=_("include tags"), required=False, coerce=int,
                                                  help_text=_("Customers with any of these tags."))
    exclude_tags = forms.TypedMultipleChoiceField(label=_("exclude tags"), required=False, coerce=int,
                                                  help_text=_("Customers with none of these tags."))

    def __init__(self, *args, tag_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(t.pk, f"{t.category.name} / {t.name}") for t in tag_choices]
        self.fields["include_tags"].choices = choices
        self.fields["exclude_tags"].choices = choices
        _style(self)

    def clean_rows(self):
        raw = self.cleaned_data.get("rows") or ""
        if not raw.strip():
            return []
        try:
            rows = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("The condition rows could not be read; add them again."))
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) or len(rows) > 200:
            raise forms.ValidationError(_("The condition rows could not be read; add them again."))
        return rows
