from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminRadioSelectWidget,
)

from shoal.core.admin_mixins import ShoalModelAdmin
from shoal.core.errors import ShoalError
from shoal.core.permissions import ACTION_LABELS, SECTIONS
from shoal.core.site import site

from . import services
from .models import Application, Department, LoginLog, Role, User


def _form_values(form, fields):
    return {f: form.cleaned_data.get(f) for f in fields if f in form.cleaned_data}


@admin.register(Department, site=site)
class DepartmentAdmin(ShoalModelAdmin):
    menu = "system.departments"
    list_display = ("path", "enabled", "order", "user_count")
    list_filter = ("enabled",)
    search_fields = ("name",)
    fields = ("name", "parent", "enabled", "order")
    ordering = ("parent_id", "order", "id")

    @display(description=_("department"))
    def path(self, obj):
        return obj.path_name()

    @display(description=_("users"))
    def user_count(self, obj):
        return obj.users.count()

    def save_model(self, request, obj, form, change):
        data = _form_values(form, ["name", "enabled", "order"])
        data["parent_id"] = obj.parent_id
        if change:
            services.department_update(actor=request.user, dept=obj, data=data)
        else:
            created = services.department_create(actor=request.user, **data)
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.department_delete(actor=request.user, dept=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ShoalError as exc:
            messages.error(request, exc.message)
            from django.shortcuts import redirect

            return redirect("admin:accounts_department_changelist")


class ResetPasswordForm(forms.Form):
    INITIAL, CHOSEN = "initial", "chosen"
    mode = forms.ChoiceField(label=_("New password"), initial=INITIAL, widget=UnfoldAdminRadioSelectWidget,
                             choices=[(INITIAL, _("The initial password (system parameter)")),
                                      (CHOSEN, _("A password I choose"))])
    password1 = forms.CharField(label=_("Password"), required=False, strip=False,
                                widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Password (again)"), required=False, strip=False,
                                widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("mode") == self.CHOSEN:
            if not data.get("password1"):
                self.add_error("password1", _("Enter the new password."))
            elif data.get("password1") != data.get("password2"):
                self.add_error("password2", _("The two passwords differ."))
        return data


class UserForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("username", "name", "gender", "mobile", "email", "is_active", "departments", "roles",
                  "masking_policy", "language")


@admin.register(User, site=site)
class UserAdmin(ShoalModelAdmin):
    menu = "system.users"
    form = UserForm
    list_display = ("username", "name", "mobile", "email", "is_active", "department_names", "role_names",
                    "masking_policy", "permissions_link")
    list_filter = ("is_active", "departments", "roles", "masking_policy")
    search_fields = ("username", "name", "mobile", "email")
    filter_horizontal = ("departments", "roles")
    actions = ["enable_users", "disable_users", "reset_passwords"]
    actions_detail = ["reset_password_one"]
    ordering = ("id",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("departments", "roles")

    @display(description=_("departments"))
    def department_names(self, obj):
        return ", ".join(d.name for d in obj.departments.all())

    @display(description=_("roles"))
    def role_names(self, obj):
        return ", ".join(r.name for r in obj.roles.all())

    @display(description=_("menu permissions"))
    def permissions_link(self, obj):
        return format_html('<a class="text-primary-600" href="{}">{}</a>',
                           reverse("admin:user_permissions", args=[obj.pk]), _("Preview"))

    def save_model(self, request, obj, form, change):
        data = _form_values(form, ["username", "name", "gender", "mobile", "email", "is_active",
                                   "masking_policy", "language"])
        data["department_ids"] = [d.pk for d in form.cleaned_data.get("departments", [])]
        data["role_ids"] = [r.pk for r in form.cleaned_data.get("roles", [])]
        if change:
            fresh = User.objects.get(pk=obj.pk)
            services.user_update(actor=request.user, user=fresh, data=data)
        else:
            user = services.user_create(actor=request.user, **data)
            obj.pk = user.pk
            messages.info(request, _("The user logs in with the initial password and must change it."))

    def save_related(self, request, form, formsets, change):
        pass  # relations are set by the service

    def delete_model(self, request, obj):
        services.user_delete(actor=request.user, user=obj)

    def _ids(self, queryset):
        return list(queryset.values_list("pk", flat=True))

    @action(description=_("Enable selected users"), permissions=["change"])
    def enable_users(self, request, queryset):
        n = services.users_set_active(actor=request.user, user_ids=self._ids(queryset), active=True)
        messages.success(request, _("%(n)d users enabled.") % {"n": n})

    @action(description=_("Disable selected users"), permissions=["change"])
    def disable_users(self, request, queryset):
        n = services.users_set_active(actor=request.user, user_ids=self._ids(queryset), active=False)
        messages.success(request, _("%(n)d users disabled.") % {"n": n})

    @action(description=_("Reset password to the initial password"), permissions=["reset_password"])
    def reset_passwords(self, request, queryset):
        n = services.users_reset_password(actor=request.user, user_ids=self._ids(queryset))
        messages.success(request, _("%(n)d passwords reset; those users must change them at next login.") % {"n": n})

    @action(description=_("Reset password"), permissions=["reset_password"], url_path="reset-password")
    def reset_password_one(self, request, object_id):
        from django.shortcuts import redirect
        from django.template.response import TemplateResponse

        target = self.get_object_or_404(request, object_id)
        form = ResetPasswordForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            chosen = form.cleaned_data["mode"] == ResetPasswordForm.CHOSEN
            try:
                services.user_reset_password(actor=request.user, user=target,
                                             password=form.cleaned_data["password1"] if chosen else None)
            except ShoalError as exc:
                form.add_error("password1", exc.message)
            else:
                messages.success(request, _("The password of %(user)s was reset; they must change it at next "
                                            "login. Their sessions ended and their API tokens were revoked.")
                                 % {"user": target.username})
                return redirect("admin:accounts_user_change", target.pk)
        context = {**self.admin_site.each_context(request), "title": _("Reset password"), "target": target,
                   "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "shoal/user_reset_password.html", context)

    def has_reset_password_permission(self, request, obj=None):
        return self._perm(request, "reset_password")


def _permission_choices():
    choices = []
    for section in SECTIONS.values():
        for menu in section.menus:
            if not menu.actions:
                continue
            group = f"{section.label} / {menu.label}"
            choices.append((group, [(f"{menu.code}.{a}", f"{menu.label}: {ACTION_LABELS.get(a, a)}")
                                    for a in menu.actions]))
    return choices


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(label=_("permissions"), required=False,
                                            widget=UnfoldAdminCheckboxSelectMultipleWidget)

    class Meta:
        model = Role
        fields = ("name", "code", "description", "data_scope", "permissions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = _permission_choices()


@admin.register(Role, site=site)
class RoleAdmin(ShoalModelAdmin):
    menu = "system.roles"
    form = RoleForm
    list_display = ("name", "code", "data_scope", "permission_count", "user_count")
    search_fields = ("name", "code")

    @display(description=_("permissions"))
    def permission_count(self, obj):
        return len(obj.permissions or [])

    @display(description=_("users"))
    def user_count(self, obj):
        return obj.users.count()

    def save_model(self, request, obj, form, change):
        data = _form_values(form, ["name", "code", "description", "data_scope", "permissions"])
        if change:
            services.role_update(actor=request.user, role=Role.objects.get(pk=obj.pk), data=data)
        else:
            obj.pk = services.role_create(actor=request.user, **data).pk

    def delete_model(self, request, obj):
        services.role_delete(actor=request.user, role=obj)


class ApplicationForm(forms.ModelForm):
    """The application, its IP allow list and what its publishable (page-side) key may do. Lists are
    edited one entry per line; the services check them."""

    publishable_event_types_text = forms.CharField(
        label=_("Event types the publishable key may send"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}), help_text=_("Event codes, one per line."))
    publishable_origins_text = forms.CharField(
        label=_("Origins the publishable key may send from"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}), help_text=_("Web origins such as https://shop.example.com, one per line."))

    class Meta:
        model = Application
        fields = ("name", "description", "enabled", "ip_allow_list")
        widgets = {"ip_allow_list": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["publishable_event_types_text"].initial = "\n".join(self.instance.publishable_event_types or [])
            self.fields["publishable_origins_text"].initial = "\n".join(self.instance.publishable_origins or [])

    def _checked(self, name, clean):
        try:
            return clean(self.cleaned_data.get(name) or "")
        except ShoalError as exc:
            raise forms.ValidationError(exc.message)

    def clean_ip_allow_list(self):
        return self._checked("ip_allow_list", services.clean_ip_allow_list)

    def clean_publishable_origins_text(self):
        return self._checked("publishable_origins_text", services.clean_origins)

    def clean_publishable_event_types_text(self):
        return self._checked("publishable_event_types_text", services.clean_event_codes)

    def service_data(self) -> dict:
        data = _form_values(self, ["name", "description", "enabled", "ip_allow_list"])
        data["publishable_origins"] = self.cleaned_data.get("publishable_origins_text") or []
        data["publishable_event_types"] = self.cleaned_data.get("publishable_event_types_text") or []
        return data


@admin.register(Application, site=site)
class ApplicationAdmin(ShoalModelAdmin):
    menu = "system.applications"
    form = ApplicationForm
    list_display = ("name", "enabled", "key_prefix", "created_at", "last_used_at")
    list_filter = ("enabled",)
    readonly_fields = ("key_prefix", "publishable_key", "created_at", "last_used_at")
    fieldsets = (
        (None, {"fields": ("name", "description", "enabled", "key_prefix", "ip_allow_list")}),
        (_("Page-side snippet"), {"fields": ("publishable_key", "publishable_event_types_text",
                                             "publishable_origins_text")}),
        (None, {"fields": ("created_at", "last_used_at")}),
    )
    actions_detail = ["rotate_key", "publishable_key_action"]

    def save_model(self, request, obj, form, change):
        data = form.service_data()
        if change:
            services.application_update(actor=request.user, app=Application.objects.get(pk=obj.pk), data=data)
        else:
            app, raw = services.application_create(actor=request.user, **data)
            obj.pk = app.pk
            messages.warning(request, _("Application key (shown only this once, copy it now): %(key)s") % {"key": raw})

    def delete_model(self, request, obj):
        services.application_delete(actor=request.user, app=obj)

    @action(description=_("Generate a new key"), permissions=["change"])
    def rotate_key(self, request, object_id):
        from django.shortcuts import redirect

        app = Application.objects.get(pk=object_id)
        raw = services.application_rotate_key(actor=request.user, app=app)
        messages.warning(request, _("New application key (shown only this once, copy it now): %(key)s") % {"key": raw})
        return redirect("admin:accounts_application_change", object_id)

    @action(description=_("New publishable key"), permissions=["change"])
    def publishable_key_action(self, request, object_id):
        from django.shortcuts import redirect

        app = Application.objects.get(pk=object_id)
        key = services.application_publishable_key(actor=request.user, app=app)
        messages.success(request, _("New publishable key: %(key)s (it may sit in web pages; the old one stops working)")
                         % {"key": key})
        return redirect("admin:accounts_application_change", object_id)


@admin.register(LoginLog, site=site)
class LoginLogAdmin(ShoalModelAdmin):
    menu = "system.login_log"
    read_only = True
    list_display = ("created_at", "username", "success", "reason_words", "ip", "user_agent")
    list_filter = ("success", "created_at")
    search_fields = ("username", "ip")
    date_hierarchy = "created_at"

    @display(description=_("reason"), ordering="reason")
    def reason_words(self, obj):
        return obj.reason_label or "-"

