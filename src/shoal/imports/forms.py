"""The forms of the import pages. They parse; the services check (a ``ShoalError`` becomes a message or a form
error)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ImportMode
from .services import target_groups

ENCODINGS = [("auto", _("Detect automatically")), ("utf-8", "UTF-8"), ("gb18030", "GB18030 (GBK)"), ("big5", "Big5")]
ACCEPT = ".csv,.txt,.xlsx,.xls,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.ms-excel"
INPUT = "border border-base-200 rounded-default px-2 py-1 dark:bg-base-900 dark:border-base-700"


def tag_choices(actor) -> list[tuple[int, str]]:
    """Enabled manual tags and the actor's personal tags, as "category / name"."""
    from shoal.tags.customer_pages import choosable_tags, tag_choice_label

    return [(tag.pk, tag_choice_label(tag)) for tag in choosable_tags(actor=actor)]


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"), widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}))
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS, initial="auto", required=False)
    mode = forms.ChoiceField(label=_("Mode"), choices=ImportMode.choices, initial=ImportMode.NORMAL,
                             widget=forms.RadioSelect, required=False)
    target = forms.TypedChoiceField(label=_("Import into"), coerce=int, empty_value=None, required=False)
    tags = forms.TypedMultipleChoiceField(label=_("Tags to apply"), coerce=int, required=False)
    strict = forms.BooleanField(label=_("Strict: import nothing if any row is invalid"), required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", _("Company public sea"))] + [
            (group.pk, group.name) for group in target_groups(actor)]
        self.fields["tags"].choices = tag_choices(actor)
        self.fields["encoding"].widget.attrs["class"] = INPUT
        self.fields["target"].widget.attrs["class"] = INPUT
        self.fields["tags"].widget.attrs.update({"class": INPUT + " min-w-64", "size": "6"})

    def options(self) -> dict:
        data = self.cleaned_data
        return {"encoding": data.get("encoding") or "auto", "mode": data.get("mode") or ImportMode.NORMAL,
                "strict": bool(data.get("strict")), "dry_run": False, "group_id": data.get("target"),
                "tag_ids": list(data.get("tags") or [])}
