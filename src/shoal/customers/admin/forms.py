"""Forms of the customer pages: the customer form (standard fields plus the custom fields the UI
template puts in it), custom field, enum items, detail tab."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultiple,
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError

from .. import cleaning, masking, selectors, services, standard, tabs
from ..models import Customer, CustomField, DetailTab, EnumItem, FieldType

CF_PREFIX = "cf_"
STANDARD_FORM_FIELDS = standard.placed("form")
SENSITIVE_FORM_FIELDS = standard.MASKED_FIELDS


# -- dynamic custom-field form fields ---------------------------------------------------------------
def _enum_choices(definition: CustomField) -> list[tuple[str, str]]:
    return [(i.code, i.label) for i in EnumItem.objects.filter(group_id=definition.enum_group_id, enabled=True)]


def custom_form_field(definition: CustomField) -> forms.Field:
    kw = {"label": definition.label, "required": definition.required}
    kind = definition.type
    if kind == FieldType.LONG_TEXT:
        return forms.CharField(widget=UnfoldAdminTextareaWidget, max_length=20000, **kw)
    if kind == FieldType.INTEGER:
        return forms.IntegerField(widget=UnfoldAdminIntegerFieldWidget, **kw)
    if kind in (FieldType.DECIMAL, FieldType.MONEY):
        return forms.DecimalField(widget=UnfoldAdminDecimalFieldWidget,
                                  decimal_places=2 if kind == FieldType.MONEY else None, **kw)
    if kind == FieldType.DATE:
        return forms.DateField(widget=UnfoldAdminSingleDateWidget, **kw)
    if kind == FieldType.DATETIME:
        return forms.SplitDateTimeField(widget=UnfoldAdminSplitDateTimeWidget, **kw)
    if kind == FieldType.BOOLEAN:
        return forms.TypedChoiceField(choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))],
                                      widget=UnfoldAdminSelectWidget, coerce=lambda v: v == "true",
                                      empty_value=None, **kw)
    if kind == FieldType.ENUM:
        return forms.ChoiceField(choices=[("", "—"), *_enum_choices(definition)], widget=UnfoldAdminSelectWidget, **kw)
    if kind == FieldType.MULTI_ENUM:
        return forms.MultipleChoiceField(choices=_enum_choices(definition), widget=UnfoldAdminCheckboxSelectMultiple,
                                         **kw)
    return forms.CharField(widget=UnfoldAdminTextInputWidget, max_length=500, **kw)


def _initial_custom(definition: CustomField, value):
    if value is None:
        return None
    if definition.type == FieldType.BOOLEAN:
        return "true" if value else "false"
    if definition.type == FieldType.DATETIME:
        try:
            return cleaning.to_datetime(value, definition.key)
        except ShoalError:
            return None
    if definition.type == FieldType.MONEY and isinstance(value, int | float):
        return Decimal(str(value)).quantize(Decimal("0.01"))  # 919007.50, as the pages show it
    return value


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = STANDARD_FORM_FIELDS

    definitions: dict[str, CustomField] = {}  # every enabled field (the services validate against them)
    form_keys: tuple[str, ...] | None = None  # the fields of the edit form (UI template); None: all
    masked: dict[str, str] = {}  # sensitive custom keys → type, when the viewer sees this customer masked

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        attrs = (self.instance.attributes or {}) if self.instance and self.instance.pk else {}
        for key, definition in self.form_definitions().items():
            self.fields[CF_PREFIX + key] = custom_form_field(definition)
            if self.instance.pk:
                initial = _initial_custom(definition, attrs.get(key))
                if key in self.masked and initial:
                    # shown masked; posted back unchanged it is not a change (see service_data)
                    initial = masking.mask_customer({"attributes": {key: initial}}, viewer=SYSTEM, customer=None,
                                                    sensitive=self.masked, decided=True)["attributes"][key]
                self.fields[CF_PREFIX + key].initial = initial
            elif definition.default is not None:
                self.fields[CF_PREFIX + key].initial = _initial_custom(definition, definition.default)
        for name in cleaning.STANDARD_ENUMS:
            if name in self.fields:
                self.fields[name] = self._standard_enum_field(name)

    def _standard_enum_field(self, name: str) -> forms.Field:
        """Source, customer type, lifecycle stage: a select of the enum group's items (free text while
        the group has none). A stored code no longer offered stays selectable, so saving keeps it."""
        field = self.fields[name]
        items = list(EnumItem.objects.filter(group__code=cleaning.STANDARD_ENUMS[name], enabled=True)
                     .order_by("order", "id").values_list("code", "label"))
        if not items:
            return field
        current = getattr(self.instance, name, "") if self.instance.pk else ""
        if current and current not in {code for code, _label in items}:
            items.append((current, current))
        return forms.ChoiceField(choices=[("", "—"), *items], required=False, label=field.label,
                                 help_text=field.help_text, widget=UnfoldAdminSelectWidget)

    def form_definitions(self) -> dict[str, CustomField]:
        if self.form_keys is None:
            return self.definitions
        return {k: d for k, d in self.definitions.items() if k in self.form_keys}

    def service_data(self) -> dict:
        """The values to write. Editing, only the fields the user changed: an unchanged form writes
        nothing (no rounded datetimes, no timeline entries), and a masked value sent back as it was
        shown never replaces the real one."""
        data = {}
        changed = set(self.changed_data) if self.instance.pk else None
        for name in STANDARD_FORM_FIELDS:
            if name not in self.cleaned_data or (changed is not None and name not in changed):
                continue
            value = self.cleaned_data[name]
            if name == "company":
                data["company_id"] = value.pk if value else None
            else:
                data[name] = value
        attrs = {}
        for key in self.form_definitions():
            if changed is not None and CF_PREFIX + key not in changed:
                continue
            if CF_PREFIX + key in self.cleaned_data:
                value = self.cleaned_data[CF_PREFIX + key]
                attrs[key] = None if value in ("", [], None) else value
        data["attributes"] = attrs
        return data

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        creating = not self.instance.pk
        try:
            existing = None
            if not creating:
                existing = Customer.objects.filter(pk=self.instance.pk).values_list("attributes", flat=True).first()
            values = cleaning.clean_customer_data(self.service_data(), existing_attributes=existing, creating=creating,
                                           definitions=self.definitions)
            services.check_unique(values, exclude_pk=self.instance.pk)
            if creating:
                services.require_identity(values)
            for name in ("mobile", "email", "ent_user_id"):
                if name in cleaned and name in values:
                    cleaned[name] = values[name]  # normalised, so the unique check compares like with like
        except ShoalError as exc:
            name = exc.detail.get("field")
            target = name if name in self.fields else (CF_PREFIX + name if name and CF_PREFIX + name in self.fields
                                                       else None)
            self.add_error(target, exc.message)
        return cleaned


def form_field_keys(definitions: dict[str, CustomField]) -> tuple[str, ...]:
    """The custom fields of the create/edit form: those marked "show in edit form", plus any required
    field without a default (a form without it could never be saved)."""
    return tuple(k for k, d in definitions.items() if d.show_in_form or (d.required and d.default is None))


# -- custom fields -----------------------------------------------------------------------------------
class CustomFieldForm(forms.ModelForm):
    key = forms.CharField(label=_("key"), required=False, max_length=63,
                          help_text=_("Leave empty to generate one like extra_text_3. Cannot change later."))

    class Meta:
        model = CustomField
        fields = ("key", "label", "type", "enum_group", "required", "default", "show_in_list", "show_in_form",
                  "show_in_filter", "order", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["key"].disabled = True

    def clean_key(self):
        key = self.cleaned_data.get("key")
        if self.instance.pk:
            return self.instance.key
        if not key:
            return ""
        try:
            key = cleaning.validate_key(key)
        except ShoalError as exc:
            raise forms.ValidationError(exc.message)
        if CustomField.objects.filter(key=key).exists():
            raise forms.ValidationError(_("A custom field with this key exists."))
        return key

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        probe = CustomField(pk=self.instance.pk, key=cleaned.get("key") or "probe", label=cleaned.get("label"),
                            type=cleaned.get("type"), default=cleaned.get("default"),
                            enum_group_id=cleaned["enum_group"].pk if cleaned.get("enum_group") else None)
        if cleaned.get("required") and not cleaned.get("show_in_form") and cleaned.get("default") is None:
            self.add_error("show_in_form", _("A required field without a default must be shown in the edit form."))
            return cleaned
        try:
            services.check_definition(probe)
            if self.instance.pk:
                old = CustomField.objects.get(pk=self.instance.pk)
                if (old.type, old.enum_group_id) != (probe.type, probe.enum_group_id):
                    selectors.plan_conversion(probe)
        except ShoalError as exc:
            field = exc.detail.get("field")
            field = {"enum_group_id": "enum_group"}.get(field, field)
            message = exc.message
            if exc.detail.get("failing_customer_ids"):
                message += " " + str(_("Customers: %(ids)s")) % {
                    "ids": ", ".join(str(i) for i in exc.detail["failing_customer_ids"][:20])}
            self.add_error(field if field in self.fields else None, message)
        return cleaned


# -- enums -----------------------------------------------------------------------------------------
class EnumItemFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.forms:
            item = form.instance
            if not item.pk or not hasattr(form, "cleaned_data"):
                continue
            deleting = form.cleaned_data.get("DELETE")
            recoding = "code" in form.changed_data
            if deleting or recoding:
                original = EnumItem.objects.select_related("group").get(pk=item.pk)
                used = selectors.enum_item_usage(original, limit=20)
                if used:
                    raise forms.ValidationError(
                        _("Item %(code)s is used by customers %(ids)s; disable it instead.")
                        % {"code": original.code, "ids": ", ".join(str(i) for i in used)})


# -- customer detail tabs (客户详情TABS) ---------------------------------------------------------------
class DetailTabForm(forms.ModelForm):
    class Meta:
        model = DetailTab
        fields = ("name", "url", "order", "enabled")
        widgets = {"url": UnfoldAdminTextInputWidget(attrs={"placeholder": "https://example.com/orders?user=${ent_user_id}"})}

    def clean_url(self):
        return tabs.validate_tab_url(self.cleaned_data.get("url"))
