from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from shoal.core.admin_mixins import ShoalModelAdmin
from shoal.core.auth import user_can
from shoal.core.errors import ShoalError
from shoal.core.site import site

from . import services
from .models import JobRun, ScheduledJob


class ScheduledJobForm(forms.ModelForm):
    class Meta:
        model = ScheduledJob
        fields = ("cron", "enabled")

    def clean_cron(self):
        try:
            return services.validate_cron(self.cleaned_data["cron"])
        except ShoalError as exc:
            raise forms.ValidationError(exc.message)


TRIGGERS = {"schedule": _("Scheduled"), "manual": _("Run now"), "cli": _("Command line")}


def trigger_label(code: str) -> str:
    return str(TRIGGERS.get(code, code))


class JobRunInline(TabularInline):
    model = JobRun
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("trigger_label", "status", "queued_at", "started_at", "duration_ms", "short_result", "short_error")
    readonly_fields = fields
    ordering = ("-queued_at",)
    hide_title = True  # no "pools.assign succeeded" (the run's str, in English) above each row

    @display(description=_("trigger"))
    def trigger_label(self, obj):
        return trigger_label(obj.trigger)

    @display(description=_("result"))
    def short_result(self, obj):
        """What the run did, e.g. {"assigned": 12, "seconds": 0.3}."""
        import json

        return "-" if obj.result in (None, "", {}) else json.dumps(obj.result, ensure_ascii=False)[:200]

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-queued_at")

    @display(description=_("error"))
    def short_error(self, obj):
        return (obj.error or "").split("\n", 1)[0][:200]

    def has_view_permission(self, request, obj=None):
        return user_can(request.user, "system.schedules.view")


@admin.register(ScheduledJob, site=site)
class ScheduledJobAdmin(ShoalModelAdmin):
    menu = "system.schedules"
    form = ScheduledJobForm
    list_display = ("job_description", "name", "cron", "enabled", "last_run_at", "last_status", "next_run_at")
    list_filter = ("enabled", "last_status")
    search_fields = ("name", "description")
    readonly_fields = ("name", "job_description", "next_run_at", "last_run_at", "last_status")
    fields = ("name", "job_description", "cron", "enabled", "next_run_at", "last_run_at", "last_status")
    inlines = [JobRunInline]
    actions = ["run_selected_now"]

    @display(description=_("description"), ordering="description")
    def job_description(self, obj):
        return gettext(obj.description) if obj.description else obj.name
    actions_detail = ["run_now"]
    actions_row = ["run_now"]

    def has_add_permission(self, request):
        return False  # jobs come from the registry

    def has_delete_permission(self, request, obj=None):
        return False

    def has_run_permission(self, request, obj=None):
        return self._perm(request, "run")

    def changelist_view(self, request, extra_context=None):
        services.sync_registry()
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        services.job_update(actor=request.user, job=obj, cron=form.cleaned_data["cron"],
                            enabled=form.cleaned_data["enabled"])

    @action(description=_("Run now"), permissions=["run"])
    def run_now(self, request, object_id):
        job = self.get_object_or_404(request, object_id)
        try:
            services.run_now(job=job, actor=request.user)
            messages.success(request, _("%(job)s is queued; the worker runs it now.") % {"job": job.name})
        except ShoalError as exc:
            messages.error(request, exc.message)
        return redirect(request.headers.get("referer") or "admin:schedules_scheduledjob_changelist")

    @action(description=_("Run selected jobs now"), permissions=["run"])
    def run_selected_now(self, request, queryset):
        for job in queryset:
            try:
                services.run_now(job=job, actor=request.user)
            except ShoalError as exc:
                messages.error(request, exc.message)
        messages.success(request, _("Queued."))


@admin.register(JobRun, site=site)
class JobRunAdmin(ShoalModelAdmin):
    menu = "system.schedules"
    read_only = True
    list_display = ("job", "run_trigger", "status", "queued_at", "started_at", "duration_ms", "short_error")
    list_filter = ("status", "trigger", "job")
    readonly_fields = ("job", "run_trigger", "scheduled_for", "status", "queued_at", "started_at", "finished_at",
                       "duration_ms", "result", "error")

    @display(description=_("error"))
    def short_error(self, obj):
        return (obj.error or "").split("\n", 1)[0][:200]

    @display(description=_("trigger"))
    def run_trigger(self, obj):
        return trigger_label(obj.trigger)

    def has_module_permission(self, request):
        return False  # reached from the job page, not the sidebar
