from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from .admin_mixins import ShoalModelAdmin
from .models import OperationLog
from .oplog import action_label, object_type_label, operation_log_queryset
from .site import site


class ActionFilter(admin.SimpleListFilter):
    """The actions that occur in the log, by their words (the code stays the URL value)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        codes = OperationLog.objects.order_by("action").values_list("action", flat=True).distinct()
        return sorted(((code, action_label(code)) for code in codes), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ObjectTypeFilter(admin.SimpleListFilter):
    """The object types that occur in the log, by their names (the code stays the URL value)."""

    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        codes = OperationLog.objects.order_by("object_type").values_list("object_type", flat=True).distinct()
        return sorted(((code, object_type_label(code)) for code in codes if code), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(OperationLog, site=site)
class OperationLogAdmin(ShoalModelAdmin):
    menu = "system.operation_log"
    read_only = True
    list_display = ("created_at", "actor_name", "action_words", "object_type_words", "object_id", "object_repr", "ip")
    list_filter = (ActionFilter, ObjectTypeFilter, "created_at")
    search_fields = ("actor_name", "object_repr", "object_id")
    date_hierarchy = "created_at"

    @display(description=_("action"), ordering="action")
    def action_words(self, obj):
        return action_label(obj.action)

    @display(description=_("object type"), ordering="object_type")
    def object_type_words(self, obj):
        return object_type_label(obj.object_type)

    def get_queryset(self, request):
        return operation_log_queryset(actor=request.user)
