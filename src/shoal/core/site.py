"""The UI shell: django-unfold's admin site, mounted at ``/``, open to every enabled user.

What a user may see is decided by Shoal's menu permissions (``core.permissions``), not by
Django's ``is_staff``/model permissions.
"""

from __future__ import annotations

from django.contrib.auth import forms as auth_forms
from django.urls import path, reverse
from unfold.forms import AdminOwnPasswordChangeForm, AuthenticationForm
from unfold.sites import UnfoldAdminSite


class ShoalLoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user):
        # Any enabled user may log in (not only is_staff as in Django's admin).
        auth_forms.AuthenticationForm.confirm_login_allowed(self, user)


class ShoalPasswordChangeForm(AdminOwnPasswordChangeForm):
    def save(self, commit=True):
        user = super().save(commit=False)
        user.must_change_password = False
        if commit:
            user.save()
            from shoal.core.oplog import log_operation

            log_operation(actor=user, action="user.change_password", obj=user)
        return user


class ShoalAdminSite(UnfoldAdminSite):
    site_title = "Shoal"
    site_header = "Shoal"
    index_title = "Shoal"
    index_template = "shoal/workbench.html"
    login_template = "shoal/login.html"
    login_form = ShoalLoginForm

    def __init__(self, name="admin"):
        super().__init__(name)
        self.login_form = ShoalLoginForm

    def has_permission(self, request):
        user = request.user
        return user.is_authenticated and user.is_active

    def password_change(self, request, extra_context=None):
        from django.contrib.auth.views import PasswordChangeView

        request.current_app = self.name
        context = {**self.each_context(request), **(extra_context or {}),
                   "forced": request.user.is_authenticated and request.user.must_change_password}
        return PasswordChangeView.as_view(
            form_class=ShoalPasswordChangeForm,
            success_url=reverse(f"{self.name}:index"),
            template_name="shoal/password_change.html",
            extra_context=context,
        )(request)

    def extra_urls(self):
        from shoal.accounts import views as account_views
        from shoal.core import views as core_views
        from shoal.customers import views as customer_views
        from shoal.segments import views as segment_views

        return [
            path("query/", self.admin_view(segment_views.query_page), name="segment_query"),
            path("system/identity/", self.admin_view(customer_views.identity_settings), name="customer_identity"),
            path("system/parameters/", self.admin_view(core_views.parameters_page), name="parameters"),
            path("system/my-permissions/", self.admin_view(account_views.my_permissions),
                 name="my_permissions"),
            path("system/my-tokens/", self.admin_view(account_views.my_tokens), name="my_tokens"),
            path("system/users/<int:user_id>/permissions/", self.admin_view(account_views.user_permissions),
                 name="user_permissions"),
        ]


site = ShoalAdminSite(name="admin")
