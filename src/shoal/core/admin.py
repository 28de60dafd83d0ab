from django.contrib import admin

from .admin_mixins import ShoalModelAdmin
from .models import OperationLog
from .oplog import operation_log_queryset
from .site import site


@admin.register(OperationLog, site=site)
class OperationLogAdmin(ShoalModelAdmin):
    menu = "system.operation_log"
    read_only = True
    list_display = ("created_at", "actor_name", "action", "object_type", "object_id", "object_repr", "ip")
    list_filter = ("action", "object_type", "created_at")
    search_fields = ("actor_name", "object_repr", "object_id")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return operation_log_queryset(actor=request.user)
