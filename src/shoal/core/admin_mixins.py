"""Model admins whose permissions are Shoal menu permissions (``<menu>.<action>``)."""

from __future__ import annotations

from unfold.admin import ModelAdmin


class ShoalModelAdmin(ModelAdmin):
    menu: str = ""  # e.g. "system.users"
    read_only: bool = False

    def _perm(self, request, action: str) -> bool:
        user = request.user
        return user.is_authenticated and user.is_active and user.has_shoal_perm(f"{self.menu}.{action}")

    def has_module_permission(self, request):
        return self._perm(request, "view")

    def has_view_permission(self, request, obj=None):
        return self._perm(request, "view")

    def has_add_permission(self, request):
        return not self.read_only and self._perm(request, "create")

    def has_change_permission(self, request, obj=None):
        return not self.read_only and self._perm(request, "edit")

    def has_delete_permission(self, request, obj=None):
        return not self.read_only and self._perm(request, "delete")
