"""The customer list and edit pages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponseRedirect
from django.urls import path
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateFilter
from unfold.decorators import action, display

from shoal.core import parameters, request_memo
from shoal.core.actors import SYSTEM
from shoal.core.admin_mixins import ShoalModelAdmin
from shoal.core.auth import user_can
from shoal.core.errors import ShoalError
from shoal.core.site import site

from .. import cleaning, columns, masking, page_extensions, selectors, services, views
from .. import display as value_display
from ..models import Contact, Customer, CustomerStatus, CustomField, EnumItem, FieldType
from .forms import CF_PREFIX, SENSITIVE_FORM_FIELDS, STANDARD_FORM_FIELDS, CustomerForm, form_field_keys
from .inlines import ContactInline, TimelineInline, save_inline_formset

PER_PAGE_CHOICES = (20, 50, 100)


class ScopedPaginator(Paginator):
    """The customer list's pages (see ``selectors.customer_page_rows``): the count on the membership side when
    the list is the whole scope, the page's ids first, deep pages read from the nearer end."""

    def __init__(self, object_list, per_page, *, actor, plain: bool, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.actor, self.plain = actor, plain

    @cached_property
    def scope(self):
        return selectors.membership_scope(actor=self.actor) if self.plain else None

    @cached_property
    def count(self):
        return selectors.customer_count(actor=self.actor, qs=self.object_list, plain=self.plain, scope=self.scope)

    def page(self, number):
        number = self.validate_number(number)
        offset = (number - 1) * self.per_page
        rows = selectors.customer_page_rows(actor=self.actor, qs=self.object_list, offset=offset, limit=self.per_page,
                                            total=self.count, plain=self.plain, scope=self.scope)
        return self._get_page(rows, number, self)


# query parameters of the list that do not narrow it (paging, popups, the column chooser's redirect)
_NOT_FILTERS = {"p", "_to_field", "_popup", "e"}


class CustomerChangeList(ChangeList):
    def get_results(self, request):
        per_page = request.session.get("customers_per_page")
        if per_page in PER_PAGE_CHOICES:
            self.list_per_page = per_page
        with parameters.cached():
            self._get_results(request)

    def _get_results(self, request):
        super().get_results(request)
        labels = value_display.standard_enum_labels()
        definitions = columns.custom_list_fields()
        custom_labels = value_display.custom_enum_labels(definitions)
        shown = masking.mask_customer_rows(self.result_list, viewer=request.user, context="list")
        for obj, values in zip(self.result_list, shown, strict=True):
            obj._labels, obj._custom_labels = labels, custom_labels
            obj._shown = values
        for column in self.list_display:  # columns of other apps read their values for the whole page
            extension = getattr(column, "extension", None)
            if extension is not None and extension.prefetch is not None:
                extension.prefetch(request, self.result_list)


class SourceFilter(admin.SimpleListFilter):
    title = _("source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return list(EnumItem.objects.filter(group__code=cleaning.STANDARD_ENUMS["source"]).values_list("code", "label"))

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


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

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        plain = not (set(request.GET) - _NOT_FILTERS)
        return ScopedPaginator(queryset, per_page, orphans=orphans, allow_empty_first_page=allow_empty_first_page,
                               actor=request.user, plain=plain)

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
        if request.method != "GET":  # actions write: nothing read once for the request
            return super().changelist_view(request, extra_context)
        with request_memo.active():  # the scope, the columns, the masking parameter read once
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # the template reads them too
            return response

    STANDARD_COLUMN_DISPLAY = {"id": "id_link", "name": "name_link", "mobile": "shown_mobile",
                               "phone": "shown_phone", "email": "shown_email", "source": "source_label",
                               "customer_type": "customer_type_label", "lifecycle_stage": "lifecycle_stage_label"}

    def get_list_display(self, request):
        """The columns the user chose (columns.user_columns), in their order (read once per request: the admin
        asks for them several times)."""
        cached = getattr(request, "_shoal_customer_columns", None)
        if cached is None:
            cached = request._shoal_customer_columns = self._list_display(request)
        return list(cached)

    def _list_display(self, request):
        definitions = columns.custom_list_fields()
        by_key = {d.key: d for d in definitions}
        out = []
        for code in columns.user_columns(request.user, definitions):
            if code.startswith(columns.CUSTOM_PREFIX):
                out.append(self._custom_column(by_key[code[len(columns.CUSTOM_PREFIX):]]))
            elif code in page_extensions.LIST_COLUMNS:
                out.append(self._extension_column(page_extensions.LIST_COLUMNS[code]))
            else:
                out.append(self.STANDARD_COLUMN_DISPLAY.get(code, code))
        return out

    def get_list_display_links(self, request, list_display):
        return None

    @staticmethod
    def _extension_column(extension: page_extensions.ListColumn):
        def column(obj):
            return extension.render(obj)

        column.short_description = extension.label
        column.__name__ = f"x_{extension.code}"
        column.extension = extension
        if extension.ordering:
            column.admin_order_field = extension.ordering
        return column

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), *page_extensions.LIST_FILTERS)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is None or "_popup" in request.GET:
            return actions
        for extension in page_extensions.LIST_ACTIONS.values():
            if user_can(request.user, extension.permission):
                actions[extension.name] = (extension.function, extension.name, extension.description)
        return actions

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
            labels = obj._labels = value_display.standard_enum_labels()
        return value_display.standard_value(name, getattr(obj, name), labels) or "-"

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
                labels = obj._custom_labels = value_display.custom_enum_labels([definition])
            value = value_display.custom_value(definition, shown["attributes"].get(key), labels)
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
            shown = masking.mask_customer(selectors.customer_dict(obj), viewer=SYSTEM, customer=obj, context="list")
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
        definitions = cleaning.enabled_definitions()
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
        keys = [CF_PREFIX + k for k in form_field_keys(cleaning.enabled_definitions())]
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
        return masking.mask_customer(selectors.customer_dict(obj), viewer=SYSTEM, customer=obj, context="detail",
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

    def save_formset(self, request, form, formset, change):
        if formset.model is not Contact:
            return super().save_formset(request, form, formset, change)
        actor, customer = request.user, form.instance
        save_inline_formset(formset,
                            create=lambda data: services.contact_create(actor=actor, customer=customer, data=data),
                            update=lambda contact, data: services.contact_update(actor=actor, contact=contact,
                                                                                 data=data),
                            delete=lambda contact: services.contact_delete(actor=actor, contact=contact))

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
