"""The UI shell: django-unfold's admin site, mounted at ``/``, open to every enabled user.

What a user may see is decided by Shoal's menu permissions (``core.permissions``), not by
Django's ``is_staff``/model permissions.
"""

from __future__ import annotations

from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils.translation import gettext as _
from unfold.forms import AdminOwnPasswordChangeForm, AuthenticationForm
from unfold.sites import UnfoldAdminSite


class ShoalLoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user):
        # Any enabled user may log in (not only is_staff as in Django's admin).
        auth_forms.AuthenticationForm.confirm_login_allowed(self, user)


class ShoalPasswordChangeForm(AdminOwnPasswordChangeForm):
    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("new_password1")
        if password and not self.errors and self.user.check_password(password):
            self.add_error("new_password2", ValidationError(_("The new password must differ from the current one."),
                                                            code="password_unchanged"))
        return cleaned

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
        self._pages: list[tuple[str, object, str]] = []

    def has_permission(self, request):
        user = request.user
        return user.is_authenticated and user.is_active

    def password_change(self, request, extra_context=None):
        from django.contrib.auth.views import PasswordChangeView
        from django.contrib.messages.views import SuccessMessageMixin
        from django.utils.translation import gettext_lazy as _

        class ShoalPasswordChangeView(SuccessMessageMixin, PasswordChangeView):
            success_message = _("Your password was changed.")

        request.current_app = self.name
        context = {**self.each_context(request), **(extra_context or {}),
                   "forced": request.user.is_authenticated and request.user.must_change_password}
        return ShoalPasswordChangeView.as_view(
            form_class=ShoalPasswordChangeForm,
            success_url=reverse(f"{self.name}:index"),
            template_name="shoal/password_change.html",
            extra_context=context,
        )(request)

    def register_page(self, route: str, view, name: str) -> None:
        """Add a page of an app under the shell (login required; the view checks its permission)."""
        if all(n != name for _r, _v, n in self._pages):
            self._pages.append((route, view, name))

    def extra_urls(self):
        return [path(route, self.admin_view(view), name=name) for route, view, name in self._pages]


site = ShoalAdminSite(name="admin")

