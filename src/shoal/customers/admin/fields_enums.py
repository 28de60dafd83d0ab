"""Custom fields and enums (system settings)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import display

from shoal.core.admin_mixins import ShoalModelAdmin
from shoal.core.errors import ShoalError
from shoal.core.site import site

from .. import services
from ..models import CustomField, EnumGroup, EnumItem
from .forms import CustomFieldForm, EnumItemFormSet
from .inlines import menu_perm, save_inline_formset


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
        data["show_in_form"] = bool(form.cleaned_data.get("show_in_form"))
        data["enum_group_id"] = form.cleaned_data["enum_group"].pk if form.cleaned_data.get("enum_group") else None
        if change:
            services.custom_field_update(actor=request.user, definition=CustomField.objects.get(pk=obj.pk), data=data)
        else:
            created = services.custom_field_create(actor=request.user, key=form.cleaned_data.get("key") or None,
                                                   **data)
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.custom_field_delete(actor=request.user, definition=obj)

    def delete_queryset(self, request, queryset):
        for definition in queryset:
            services.custom_field_delete(actor=request.user, definition=definition)


class EnumItemInline(TabularInline):
    model = EnumItem
    formset = EnumItemFormSet
    extra = 1
    fields = ("code", "label", "order", "enabled")

    def has_view_permission(self, request, obj=None):
        return menu_perm(request, "system.enums.view")

    def has_add_permission(self, request, obj=None):
        return menu_perm(request, "system.enums.edit")

    def has_change_permission(self, request, obj=None):
        return menu_perm(request, "system.enums.edit")

    def has_delete_permission(self, request, obj=None):
        return menu_perm(request, "system.enums.edit")


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

    def save_formset(self, request, form, formset, change):
        actor, group = request.user, form.instance
        save_inline_formset(formset,
                            create=lambda data: services.enum_item_create(actor=actor, group=group, data=data),
                            update=lambda item, data: services.enum_item_update(actor=actor, item=item, data=data),
                            delete=lambda item: services.enum_item_delete(actor=actor, item=item))

    def delete_model(self, request, obj):
        services.enum_group_delete(actor=request.user, group=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ShoalError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect("../")
