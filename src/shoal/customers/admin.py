"""Pages: customer list and detail, custom fields, enums, companies (on the unfold admin shell).

Customer rows come from the scoped selector; every shown value passes through the masking function.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponseRedirect
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.contrib.filters.admin import RangeDateFilter
from unfold.decorators import action, display
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

from shoal.core.admin_mixins import ShoalModelAdmin
from shoal.core.errors import ShoalError
from shoal.core.site import site

from . import columns as C
from . import display as D
from . import fields as F
from . import masking, selectors, services, tabs, views
from .models import (
    Company,
    Contact,
    Customer,
    CustomerStatus,
    CustomField,
    DetailTab,
    EnumGroup,
    EnumItem,
    FieldType,
    TimelineEntry,
)

PER_PAGE_CHOICES = (20, 50, 100)
CF_PREFIX = "cf_"
STANDARD_FORM_FIELDS = ("name", "mobile", "phone", "email", "ent_user_id", "gender", "birthday", "city", "qq",
                        "wechat", "telegram", "avatar_url", "source", "customer_type", "lifecycle_stage", "status",
                        "registered_at", "company", "notes")
SENSITIVE_FORM_FIELDS = ("mobile", "phone", "email")


def _menu_perm(request, code: str) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and user.has_shoal_perm(code)


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
            return F.to_datetime(value, definition.key)
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
                    initial = masking.mask_customer({"attributes": {key: initial}}, viewer=None, customer=None,
                                                    sensitive=self.masked, decided=True)["attributes"][key]
                self.fields[CF_PREFIX + key].initial = initial
            elif definition.default is not None:
                self.fields[CF_PREFIX + key].initial = _initial_custom(definition, definition.default)
        for name in F.STANDARD_ENUMS:
            if name in self.fields:
                self.fields[name] = self._standard_enum_field(name)

    def _standard_enum_field(self, name: str) -> forms.Field:
        """Source, customer type, lifecycle stage: a select of the enum group's items (free text while
        the group has none). A stored code no longer offered stays selectable, so saving keeps it."""
        field = self.fields[name]
        items = list(EnumItem.objects.filter(group__code=F.STANDARD_ENUMS[name], enabled=True)
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
            values = F.clean_customer_data(self.service_data(), existing_attributes=existing, creating=creating,
                                           definitions=self.definitions)
            services._check_unique(values, exclude_pk=self.instance.pk)
            if creating:
                services._require_identity(values)
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


class CustomerChangeList(ChangeList):
    def get_results(self, request):
        per_page = request.session.get("customers_per_page")
        if per_page in PER_PAGE_CHOICES:
            self.list_per_page = per_page
        super().get_results(request)
        viewer = request.user
        mask = masking.should_mask(viewer=viewer, customer=None, context="list")
        sensitive = masking.sensitive_custom_fields() if mask else {}
        labels = D.standard_enum_labels()
        definitions = C.custom_list_fields()
        custom_labels = D.custom_enum_labels(definitions)
        for obj in self.result_list:
            obj._labels, obj._custom_labels = labels, custom_labels
            obj._shown = masking.mask_customer(selectors.customer_dict(obj), viewer=viewer, customer=obj,
                                               context="list", sensitive=sensitive, decided=mask)


class SourceFilter(admin.SimpleListFilter):
    title = _("source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return list(EnumItem.objects.filter(group__code=F.STANDARD_ENUMS["source"]).values_list("code", "label"))

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


# -- inlines -----------------------------------------------------------------------------------------
class CustomerInlinePerms:
    def has_view_permission(self, request, obj=None):
        return _menu_perm(request, "customers.customers.view")

    def has_add_permission(self, request, obj=None):
        return _menu_perm(request, "customers.customers.edit") and not self._masked(request, obj)

    def has_change_permission(self, request, obj=None):
        return _menu_perm(request, "customers.customers.edit") and not self._masked(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _menu_perm(request, "customers.customers.edit") and not self._masked(request, obj)

    def _masked(self, request, obj) -> bool:
        return False


class ContactInline(CustomerInlinePerms, TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "relation", "phone", "email", "notes")

    def _masked(self, request, obj) -> bool:
        return obj is not None and masking.should_mask(viewer=request.user, customer=obj, context="detail")

    def get_fields(self, request, obj=None):
        if self._masked(request, obj):
            return ("name", "relation", "masked_phone", "masked_email", "notes")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if self._masked(request, obj):
            return ("name", "relation", "masked_phone", "masked_email", "notes")
        return ()

    @display(description=_("phone"))
    def masked_phone(self, obj):
        return masking.mask_phone(obj.phone) or "-"

    @display(description=_("email"))
    def masked_email(self, obj):
        return masking.mask_email(obj.email) or "-"


class TimelineInline(CustomerInlinePerms, TabularInline):
    model = TimelineEntry
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("created_at", "kind", "field", "shown_old", "shown_new", "actor_name")
    readonly_fields = fields
    verbose_name_plural = _("timeline")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        # the masking decision for this customer, used by shown_old / shown_new
        self._mask_for = {obj.pk if obj else None: masking.should_mask(viewer=request.user, customer=obj,
                                                                         context="detail")}
        self._definitions = None  # read again for this page (see _shown)
        return super().get_formset(request, obj, **kwargs)

    def _shown(self, obj, attr):
        mask = getattr(self, "_mask_for", {}).get(obj.customer_id, True)
        entry = masking.mask_timeline([{"field": obj.field, "old": obj.old, "new": obj.new}], mask=mask)[0]
        definitions = getattr(self, "_definitions", None)
        if definitions is None:
            definitions = self._definitions = {d.key: d for d in CustomField.objects.all()}
            self._labels = (D.custom_enum_labels(definitions.values()), D.standard_enum_labels())
        value = views._timeline_value(obj.field, entry[attr], definitions, *self._labels)
        return "-" if value in (None, "") else value

    @display(description=_("old value"))
    def shown_old(self, obj):
        return self._shown(obj, "old")

    @display(description=_("new value"))
    def shown_new(self, obj):
        return self._shown(obj, "new")


# -- customers ---------------------------------------------------------------------------------------
@admin.register(Customer, site=site)
class CustomerAdmin(ShoalModelAdmin):
    menu = "customers.customers"
    form = CustomerForm
    list_display = ("id_link", "name_link", "shown_mobile", "shown_email", "ent_user_id", "status", "source",
                    "customer_type", "created_at")
    list_display_links = None  # id and name link to the detail page
    list_filter = ("status", SourceFilter, ("created_at", RangeDateFilter))
    list_filter_submit = True
    search_fields = ("name",)  # the search itself is selectors.customer_search_q
    search_help_text = _("Search by id, name, mobile, email, external id or Telegram username")
    list_per_page = 20
    list_max_show_all = 100
    show_full_result_count = False
    list_before_template = "customers/per_page.html"
    inlines = [ContactInline, TimelineInline]
    actions = ["ban_customers", "enable_customers", "delete_selected"]
    actions_detail = ["open_detail_page"]
    ordering = ("-created_at", "-id")

    class Media:
        css = {"all": ("customers/customers.css",)}  # list cells: one line, long text cut with an ellipsis

    # pages of our own: detail, attachments, list columns
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("columns/", wrap(views.list_columns), name="customers_customer_columns"),
            path("<int:pk>/detail/", wrap(views.customer_detail), name="customers_customer_detail"),
            path("<int:pk>/attachments/", wrap(views.attachment_upload),
                 name="customers_customer_attachment_upload"),
            path("<int:pk>/attachments/<int:attachment_id>/", wrap(views.attachment_download),
                 name="customers_customer_attachment_download"),
            path("<int:pk>/attachments/<int:attachment_id>/delete/", wrap(views.attachment_delete),
                 name="customers_customer_attachment_delete"),
            *super().get_urls(),
        ]

    @action(description=_("Detail page"), url_path="open-detail", icon="person")
    def open_detail_page(self, request, object_id):
        return HttpResponseRedirect(views.detail_url(self.get_object_or_404(request, object_id).pk))

    def _after_save(self, request, obj, response):
        if "_continue" in request.POST or "_addanother" in request.POST or "_popup" in request.POST:
            return response
        return HttpResponseRedirect(views.detail_url(obj.pk))

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request, obj, super().response_add(request, obj, post_url_continue))

    def response_change(self, request, obj):
        return self._after_save(request, obj, super().response_change(request, obj))

    # scope, search and paging
    def get_queryset(self, request):
        return selectors.customer_queryset(actor=request.user).select_related("company")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(selectors.customer_search_q(search_term)), False

    def get_changelist(self, request, **kwargs):
        return CustomerChangeList

    def masked_lookup_paths(self, request):
        keys = masking.masked_field_keys(viewer=request.user)
        return frozenset(k if k in masking.MASKED_FIELDS else f"attributes__{k}" for k in keys)

    def lookup_label(self, path):
        head, _sep, rest = path.partition(LOOKUP_SEP)
        if head == "attributes" and rest:
            label = CustomField.objects.filter(key=rest.split(LOOKUP_SEP)[0]).values_list("label", flat=True).first()
            if label:
                return label
        return super().lookup_label(path)

    def changelist_view(self, request, extra_context=None):
        if "per_page" in request.GET:
            try:
                per_page = int(request.GET["per_page"])
            except ValueError:
                per_page = 20
            request.session["customers_per_page"] = per_page if per_page in PER_PAGE_CHOICES else 20
            params = request.GET.copy()
            params.pop("per_page")
            params.pop("p", None)
            return HttpResponseRedirect(request.path + ("?" + params.urlencode() if params else ""))
        extra_context = {**(extra_context or {}), "per_page_choices": PER_PAGE_CHOICES,
                         "per_page": request.session.get("customers_per_page", 20)}
        return super().changelist_view(request, extra_context)

    STANDARD_COLUMN_DISPLAY = {"id": "id_link", "name": "name_link", "mobile": "shown_mobile",
                               "phone": "shown_phone", "email": "shown_email", "source": "source_label",
                               "customer_type": "customer_type_label", "lifecycle_stage": "lifecycle_stage_label"}

    def get_list_display(self, request):
        """The columns the user chose (columns.user_columns), in their order."""
        definitions = C.custom_list_fields()
        by_key = {d.key: d for d in definitions}
        out = []
        for code in C.user_columns(request.user, definitions):
            if code.startswith(C.CUSTOM_PREFIX):
                out.append(self._custom_column(by_key[code[len(C.CUSTOM_PREFIX):]]))
            else:
                out.append(self.STANDARD_COLUMN_DISPLAY.get(code, code))
        return out

    def get_list_display_links(self, request, list_display):
        return None

    @display(description=_("ID"), ordering="id")
    def id_link(self, obj):
        return format_html('<a class="text-primary-600" href="{}">{}</a>', views.detail_url(obj.pk), obj.pk)

    @display(description=_("name"), ordering="name")
    def name_link(self, obj):
        name = obj.name or f"#{obj.pk}"
        return format_html('<a class="text-primary-600 shoal-cell" href="{}" title="{}">{}</a>',
                           views.detail_url(obj.pk), name, name)

    def _label(self, obj, name: str):
        labels = getattr(obj, "_labels", None)
        if labels is None:
            labels = obj._labels = D.standard_enum_labels()
        return D.standard_value(name, getattr(obj, name), labels) or "-"

    @display(description=_("source"), ordering="source")
    def source_label(self, obj):
        return self._label(obj, "source")

    @display(description=_("customer type"), ordering="customer_type")
    def customer_type_label(self, obj):
        return self._label(obj, "customer_type")

    @display(description=_("lifecycle stage"), ordering="lifecycle_stage")
    def lifecycle_stage_label(self, obj):
        return self._label(obj, "lifecycle_stage")

    @staticmethod
    def _custom_column(definition: CustomField):
        key = definition.key

        def column(obj):
            shown = getattr(obj, "_shown", None) or {"attributes": obj.attributes or {}}
            labels = getattr(obj, "_custom_labels", None)
            if labels is None:
                labels = obj._custom_labels = D.custom_enum_labels([definition])
            value = D.custom_value(definition, shown["attributes"].get(key), labels)
            if value is None:
                return "-"
            if definition.type in (FieldType.MONEY, FieldType.DECIMAL, FieldType.INTEGER):
                return format_html('<span class="shoal-number">{}</span>', value)
            return format_html('<span class="shoal-cell" title="{}">{}</span>', value, value)

        column.short_description = definition.label
        column.__name__ = f"cf_{key}"
        return column

    def _shown(self, obj) -> dict:
        shown = getattr(obj, "_shown", None)
        if shown is None:  # outside the changelist: mask as a list would
            shown = masking.mask_customer(selectors.customer_dict(obj), viewer=None, customer=obj, context="list")
            obj._shown = shown
        return shown

    @display(description=_("mobile"))
    def shown_mobile(self, obj):
        return self._shown(obj).get("mobile") or "-"

    @display(description=_("email"))
    def shown_email(self, obj):
        email = self._shown(obj).get("email")
        return format_html('<span class="shoal-cell" title="{}">{}</span>', email, email) if email else "-"

    @display(description=_("phone"))
    def shown_phone(self, obj):
        return self._shown(obj).get("phone") or "-"

    # the detail / edit page
    def _masked_detail(self, request, obj) -> bool:
        return obj is not None and masking.should_mask(viewer=request.user, customer=obj, context="detail")

    def get_form(self, request, obj=None, change=False, **kwargs):
        definitions = F.enabled_definitions()
        hidden = SENSITIVE_FORM_FIELDS if self._masked_detail(request, obj) else ()
        # the model fields only; custom fields are added by CustomerForm from the definitions
        kwargs["fields"] = [f for f in STANDARD_FORM_FIELDS if f not in hidden]
        form = super().get_form(request, obj, change=change, **kwargs)
        masked = masking.sensitive_custom_fields() if hidden else {}
        return type("CustomerFormFor", (form,), {"definitions": definitions, "masked": masked,
                                                 "form_keys": form_field_keys(definitions)})

    def get_fieldsets(self, request, obj=None):
        masked = self._masked_detail(request, obj)
        contact = ("masked_mobile", "masked_phone", "masked_email") if masked else ("mobile", "phone", "email")
        fieldsets = [
            (None, {"fields": ("name", *contact, "ent_user_id", "gender", "birthday", "city")}),
            (_("Accounts"), {"fields": ("qq", "wechat", "telegram", "avatar_url")}),
            (_("Classification"), {"fields": ("source", "customer_type", "lifecycle_stage", "status", "company",
                                              "registered_at", "notes")}),
        ]
        keys = [CF_PREFIX + k for k in form_field_keys(F.enabled_definitions())]
        if keys:
            fieldsets.append((_("Other info"), {"fields": keys}))
        if obj is not None:
            fieldsets.append((_("Groups and assignment"), {"fields": ("group_info", "created_at", "updated_at")}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = ["group_info", "created_at", "updated_at"]
        if self._masked_detail(request, obj):
            fields += ["masked_mobile", "masked_phone", "masked_email"]
        return fields

    def _detail_masked_dict(self, obj):
        return masking.mask_customer(selectors.customer_dict(obj), viewer=None, customer=obj, context="detail",
                                     decided=True)

    @display(description=_("mobile"))
    def masked_mobile(self, obj):
        return self._detail_masked_dict(obj).get("mobile") or "-"

    @display(description=_("phone"))
    def masked_phone(self, obj):
        return self._detail_masked_dict(obj).get("phone") or "-"

    @display(description=_("email"))
    def masked_email(self, obj):
        return self._detail_masked_dict(obj).get("email") or "-"

    @display(description=_("groups"))
    def group_info(self, obj):
        rows = [(m.group.name, (m.salesperson.name or m.salesperson.username) if m.salesperson else _("public sea"))
                for m in obj.memberships.select_related("group", "salesperson")]
        if not rows:
            return _("Company public sea")
        return format_html_join(", ", "{} ({})", rows)

    def save_model(self, request, obj, form, change):
        data = form.service_data()
        try:
            if change:
                fresh = Customer.objects.get(pk=obj.pk)
                services.customer_update(actor=request.user, customer=fresh, data=data,
                                         definitions=form.definitions)
            else:
                created = services.customer_create(actor=request.user, data=data, definitions=form.definitions)
                obj.pk = created.pk
        except ShoalError as exc:
            messages.error(request, exc.message)
            raise

    def delete_model(self, request, obj):
        services.customer_delete(actor=request.user, customer=obj)

    def delete_queryset(self, request, queryset):
        services.customers_delete(actor=request.user, customer_ids=list(queryset.values_list("pk", flat=True)))

    @action(description=_("Ban selected customers"), permissions=["change"])
    def ban_customers(self, request, queryset):
        n = services.customers_set_status(actor=request.user, customer_ids=list(queryset.values_list("pk", flat=True)),
                                          status=CustomerStatus.BANNED)
        messages.success(request, _("%(n)d customers banned.") % {"n": n})

    @action(description=_("Enable selected customers"), permissions=["change"])
    def enable_customers(self, request, queryset):
        n = services.customers_set_status(actor=request.user, customer_ids=list(queryset.values_list("pk", flat=True)),
                                          status=CustomerStatus.ACTIVE)
        messages.success(request, _("%(n)d customers enabled.") % {"n": n})


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
            key = F.validate_key(key)
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
            services._check_definition(probe)
            if self.instance.pk:
                old = CustomField.objects.get(pk=self.instance.pk)
                if (old.type, old.enum_group_id) != (probe.type, probe.enum_group_id):
                    services.plan_conversion(probe)
        except ShoalError as exc:
            field = exc.detail.get("field")
            field = {"enum_group_id": "enum_group"}.get(field, field)
            message = exc.message
            if exc.detail.get("failing_customer_ids"):
                message += " " + str(_("Customers: %(ids)s")) % {
                    "ids": ", ".join(str(i) for i in exc.detail["failing_customer_ids"][:20])}
            self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(CustomField, site=site)
class CustomFieldAdmin(ShoalModelAdmin):
    menu = "system.fields"
    form = CustomFieldForm
    list_display = ("label", "key", "type", "enum_group", "required", "show_in_list", "show_in_form",
                    "show_in_filter", "order", "enabled")
    list_filter = ("type", "enabled", "show_in_list", "show_in_form", "show_in_filter")
    fieldsets = (
        (None, {"fields": ("key", "label", "type", "enum_group", "required", "default", "order", "enabled")}),
        (_("UI template: where the field appears"), {
            "fields": ("show_in_list", "show_in_form", "show_in_filter"),
            "description": _("Show in list: a column of the customer list (users choose among them). "
                             "Show in edit form: an input of the create/edit form. "
                             "Show in filter: a condition of the customer query."),
        }),
    )
    search_fields = ("label", "key")
    ordering = ("order", "id")

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data.get(k) for k in ("label", "type", "required", "default", "show_in_filter",
                                                      "show_in_list", "order", "enabled")}
        data["enum_group_id"] = form.cleaned_data["enum_group"].pk if form.cleaned_data.get("enum_group") else None
        if change:
            services.custom_field_update(actor=request.user, definition=CustomField.objects.get(pk=obj.pk), data=data)
        else:
            created = services.custom_field_create(actor=request.user, key=form.cleaned_data.get("key") or None,
                                                   **data)
            obj.pk = created.pk
        CustomField.objects.filter(pk=obj.pk).update(show_in_form=bool(form.cleaned_data.get("show_in_form")))

    def delete_model(self, request, obj):
        services.custom_field_delete(actor=request.user, definition=obj)

    def delete_queryset(self, request, queryset):
        for definition in queryset:
            services.custom_field_delete(actor=request.user, definition=definition)


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
                used = services.enum_item_usage(original, limit=20)
                if used:
                    raise forms.ValidationError(
                        _("Item %(code)s is used by customers %(ids)s; disable it instead.")
                        % {"code": original.code, "ids": ", ".join(str(i) for i in used)})


class EnumItemInline(TabularInline):
    model = EnumItem
    formset = EnumItemFormSet
    extra = 1
    fields = ("code", "label", "order", "enabled")

    def has_view_permission(self, request, obj=None):
        return _menu_perm(request, "system.enums.view")

    def has_add_permission(self, request, obj=None):
        return _menu_perm(request, "system.enums.edit")

    def has_change_permission(self, request, obj=None):
        return _menu_perm(request, "system.enums.edit")

    def has_delete_permission(self, request, obj=None):
        return _menu_perm(request, "system.enums.edit")


@admin.register(EnumGroup, site=site)
class EnumGroupAdmin(ShoalModelAdmin):
    menu = "system.enums"
    list_display = ("name", "code", "item_labels")
    search_fields = ("name", "code")
    fields = ("code", "name", "description")
    inlines = [EnumItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("items")

    @display(description=_("items"))
    def item_labels(self, obj):
        return ", ".join(i.label for i in obj.items.all()[:10])

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data.get(k) for k in ("code", "name", "description")}
        try:
            if change:
                services.enum_group_update(actor=request.user, group=EnumGroup.objects.get(pk=obj.pk), data=data)
            else:
                obj.pk = services.enum_group_create(actor=request.user, **data).pk
        except ShoalError as exc:
            messages.error(request, exc.message)
            raise

    def delete_model(self, request, obj):
        services.enum_group_delete(actor=request.user, group=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ShoalError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect("../")


# -- companies -------------------------------------------------------------------------------------
@admin.register(Company, site=site)
class CompanyAdmin(ShoalModelAdmin):
    menu = "customers.companies"
    list_display = ("name", "phone", "city", "website", "created_at")
    search_fields = ("name",)
    list_per_page = 20
    base_fields = ("name", "phone", "email", "website", "country", "province", "city", "address")

    def _customer_list(self, request):
        """A read-only column of the company's customers, scoped to the viewer (cached per request)."""
        fn = getattr(request, "_company_customers", None)
        if fn is None:
            viewer = request.user

            def customers(obj):
                if not obj or not obj.pk:
                    return "-"
                qs = selectors.customer_queryset(actor=viewer).filter(company=obj).order_by("-created_at")[:50]
                rows = [(views.detail_url(c.pk), c.name or f"#{c.pk}") for c in qs]
                return format_html_join(", ", '<a class="text-primary-600" href="{}">{}</a>', rows) or "-"

            customers.short_description = _("customers")
            fn = request._company_customers = customers
        return fn

    def get_fields(self, request, obj=None):
        return (*self.base_fields, self._customer_list(request)) if obj else self.base_fields

    def get_readonly_fields(self, request, obj=None):
        return (self._customer_list(request),) if obj else ()

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data.get(k) for k in services.COMPANY_FIELDS}
        if change:  # a ShoalError is shown on the form (ShoalModelAdmin)
            services.company_update(actor=request.user, company=Company.objects.get(pk=obj.pk), data=data)
        else:
            obj.pk = services.company_create(actor=request.user, data=data).pk

    def delete_model(self, request, obj):
        services.company_delete(actor=request.user, company=obj)


# -- customer detail tabs (客户详情TABS) ---------------------------------------------------------------
class DetailTabForm(forms.ModelForm):
    class Meta:
        model = DetailTab
        fields = ("name", "url", "order", "enabled")
        widgets = {"url": UnfoldAdminTextInputWidget(attrs={"placeholder": "https://example.com/orders?user=${ent_user_id}"})}

    def clean_url(self):
        return tabs.validate_tab_url(self.cleaned_data.get("url"))


@admin.register(DetailTab, site=site)
class DetailTabAdmin(ShoalModelAdmin):
    menu = "system.detail_tabs"
    form = DetailTabForm
    list_display = ("name", "url", "order", "enabled")
    list_editable = ("order", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "url")
    ordering = ("order", "id")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        from shoal.core.oplog import log_operation

        log_operation(actor=request.user, action="detail_tab.update" if change else "detail_tab.create", obj=obj,
                      detail={"url": obj.url, "order": obj.order, "enabled": obj.enabled})

    def delete_model(self, request, obj):
        from shoal.core.oplog import log_operation

        log_operation(actor=request.user, action="detail_tab.delete", obj=obj)
        super().delete_model(request, obj)
