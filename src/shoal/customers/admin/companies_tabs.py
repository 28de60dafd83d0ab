"""Companies and the customer detail tabs."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from shoal.core.admin_mixins import ShoalModelAdmin
from shoal.core.site import site

from .. import selectors, services, views
from ..models import Company, DetailTab
from .forms import DetailTabForm


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
        data = {k: form.cleaned_data[k] for k in services.TAB_FIELDS if k in form.cleaned_data}
        if change:
            services.detail_tab_update(actor=request.user, tab=DetailTab.objects.get(pk=obj.pk), data=data)
        else:
            obj.pk = services.detail_tab_create(actor=request.user, data=data).pk

    def delete_model(self, request, obj):
        services.detail_tab_delete(actor=request.user, tab=obj)
