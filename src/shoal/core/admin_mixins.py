"""Model admins whose permissions are Shoal menu permissions (``<menu>.<action>``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from unfold.admin import ModelAdmin

from .errors import ShoalError


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

    # -- a ShoalError from a service is the user's mistake: show it, never a 500 -------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A ShoalError from ``save_model`` (the transaction is rolled back) renders the same form
        again, bound to what was sent, with the error on its field (``detail["field"]``) or on top."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ShoalError as exc:
            if request.method != "POST" or getattr(request, "_shoal_form_error", None) is not None:
                raise
            request._shoal_form_error = exc
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, "_shoal_form_error", None)
        if error is None:
            return form_class

        class FormWithServiceError(form_class):
            def clean(self):
                data = super().clean()
                field = error.detail.get("field")
                self.add_error(field if field in self.fields else None, error.message)
                return data

        FormWithServiceError.__name__ = form_class.__name__
        return FormWithServiceError

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ShoalError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")

    def response_action(self, request, queryset):
        """Actions (bulk delete included): a ShoalError is a message on the list, not a 500."""
        try:
            return super().response_action(request, queryset)
        except ShoalError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())
