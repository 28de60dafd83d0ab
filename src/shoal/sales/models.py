"""Follow-ups, follow-up tasks and in-site notifications: the minimum the pool rules need (the task
center builds on them)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FollowUpMethod(models.TextChoices):
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    VISIT = "visit", _("Visit")
    OTHER = "other", _("Other")


class FollowUpStatus(models.TextChoices):
    REACHED = "reached", _("Reached")
    NOT_REACHED = "not_reached", _("Not reached")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")
    DEAL = "deal", _("Closed deal")


class FollowUp(models.Model):
    """跟进记录: a salesperson's contact with a customer. Recording one closes the salesperson's open
    follow-up tasks for that customer and updates the customer's last follow-up time and count."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="follow_ups",
                                 verbose_name=_("customer"))
    salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="follow_ups", verbose_name=_("salesperson"))
    method = models.CharField(_("method"), max_length=16, choices=FollowUpMethod.choices, default=FollowUpMethod.PHONE)
    status = models.CharField(_("status"), max_length=16, choices=FollowUpStatus.choices, default=FollowUpStatus.REACHED)
    effective = models.BooleanField(_("effective"), default=False)
    summary = models.TextField(_("summary"), blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        indexes = [models.Index(fields=["customer", "-created_at"], name="followup_customer_idx"),
                   models.Index(fields=["salesperson", "-created_at"], name="followup_sales_idx")]


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


class FollowUpTask(models.Model):
    """跟进任务: follow a customer up by ``due_at``; done when its salesperson records a follow-up."""

    salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follow_up_tasks",
                                    verbose_name=_("salesperson"), db_index=False)  # task_sales_idx
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"), db_index=False)  # task_customer_idx
    group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("group"))
    title = models.CharField(_("title"), max_length=200, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        indexes = [models.Index(fields=["salesperson", "status", "due_at"], name="task_sales_idx"),
                   models.Index(fields=["customer", "status"], name="task_customer_idx")]


class Notification(models.Model):
    """站内通知: a message to one user (e.g. a recycle warning), read or not."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    key = models.CharField(max_length=100, blank=True)  # idempotence: one notification per (user, key)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_idx")]
        constraints = [models.UniqueConstraint(fields=["user", "key"], condition=~models.Q(key=""),
                                               name="notification_unique_key")]
