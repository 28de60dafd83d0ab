"""Inlines of the customer page: contacts and the timeline."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import display

from .. import display as value_display
from .. import masking, views
from ..models import Contact, CustomField, TimelineEntry


def menu_perm(request, code: str) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and user.has_shoal_perm(code)


def save_inline_formset(formset, *, create, update, delete) -> None:
    """Save an inline formset through services instead of ``formset.save()``: ``create(data)``,
    ``update(obj, data)`` with ``obj`` read again from the database (the form's instance already holds
    the posted values) and ``delete(obj)``. Fills the formset's new/changed/deleted objects as
    ``formset.save()`` would: the admin's change message reads them."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    deleted = formset.deleted_forms
    for form in deleted:
        if form.instance.pk:
            delete(form.instance)
            formset.deleted_objects.append(form.instance)
    skip = {"id", "DELETE", formset.fk.name}
    for form in formset.forms:
        if form in deleted or not form.has_changed() or not hasattr(form, "cleaned_data"):
            continue
        data = {name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data and name not in skip}
        if form.instance.pk:
            fresh = formset.model.objects.get(pk=form.instance.pk)
            formset.changed_objects.append((update(fresh, data), form.changed_data))
        else:
            formset.new_objects.append(create(data))


# -- inlines -----------------------------------------------------------------------------------------
class CustomerInlinePerms:
    def has_view_permission(self, request, obj=None):
        return menu_perm(request, "customers.customers.view")

    def has_add_permission(self, request, obj=None):
        return menu_perm(request, "customers.customers.edit") and not self._masked(request, obj)

    def has_change_permission(self, request, obj=None):
        return menu_perm(request, "customers.customers.edit") and not self._masked(request, obj)

    def has_delete_permission(self, request, obj=None):
        return menu_perm(request, "customers.customers.edit") and not self._masked(request, obj)

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
    fields = ("created_at", "kind", "shown_field", "shown_old", "shown_new", "shown_actor")
    readonly_fields = fields
    verbose_name_plural = _("timeline")
    hide_title = True  # no "1813 follow_up" (the entry's str) above each row

    @display(description=_("field"))
    def shown_field(self, obj):
        """The field's label (邀请人), as the detail page's timeline shows it, not its code (invited_by_id)."""
        if not obj.field:
            return "-"
        if getattr(self, "_definitions", None) is None:
            self._definitions = {d.key: d for d in CustomField.objects.all()}
            self._labels = (value_display.custom_enum_labels(self._definitions.values()),
                            value_display.standard_enum_labels())
        return views._field_label(obj.field, self._definitions)

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
        self._operators = None  # likewise (see shown_actor)
        return super().get_formset(request, obj, **kwargs)

    def _shown(self, obj, attr):
        mask = getattr(self, "_mask_for", {}).get(obj.customer_id, True)
        entry = masking.mask_timeline([{"field": obj.field, "old": obj.old, "new": obj.new}], mask=mask)[0]
        definitions = getattr(self, "_definitions", None)
        if definitions is None:
            definitions = self._definitions = {d.key: d for d in CustomField.objects.all()}
            self._labels = (value_display.custom_enum_labels(definitions.values()), value_display.standard_enum_labels())
        value = views.timeline_value(obj.field, entry[attr], definitions, *self._labels)
        return "-" if value in (None, "") else value

    @display(description=_("operator"))
    def shown_actor(self, obj):
        """The operator's display name (else username), not the username the entry was written with."""
        names = getattr(self, "_operators", None)
        if names is None:
            names = self._operators = {}
        if obj.actor_id is not None and obj.actor_id not in names:  # one query per operator
            names[obj.actor_id] = views.operator_names([obj]).get(obj.actor_id)
        return views.operator_shown(obj.actor_id, obj.actor_name, names) or "-"

    @display(description=_("old value"))
    def shown_old(self, obj):
        return self._shown(obj, "old")

    @display(description=_("new value"))
    def shown_new(self, obj):
        return self._shown(obj, "new")
