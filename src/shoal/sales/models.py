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
    maturity = models.CharField(_("maturity"), max_length=32, blank=True)  # an item code of the enum (成熟度)
    invitation_type = models.CharField(_("invitation type"), max_length=32, blank=True)  # (邀约类型)
    call_seconds = models.PositiveIntegerField(_("call duration (seconds)"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        indexes = [models.Index(fields=["customer", "-created_at"], name="followup_customer_idx"),
                   # covering: the workbench's rankings (customers, effective, call time a salesperson and day) read the
                   # index alone
                   models.Index(fields=["salesperson", "-created_at", "customer", "effective", "call_seconds"],
                                name="followup_sales_cover_idx")]


class TaskType(models.TextChoices):
    NORMAL = "normal", _("Normal task")
    FOLLOW_UP = "follow_up", _("Follow-up task")


class TaskPriority(models.IntegerChoices):
    """Stored as a number so tasks sort by it; the API speaks the codes (:data:`PRIORITY_CODES`)."""

    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


PRIORITY_CODES = {TaskPriority.LOW: "low", TaskPriority.MEDIUM: "medium", TaskPriority.HIGH: "high",
                  TaskPriority.URGENT: "urgent"}
PRIORITY_VALUES = {code: value for value, code in PRIORITY_CODES.items()}


class TaskProgress(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_PROGRESS = (TaskProgress.NOT_STARTED, TaskProgress.IN_PROGRESS)  # a task still to do


class Task(models.Model):
    """任务: a normal task, or a follow-up task (跟进任务) linked to a customer: done when its owner records a
    follow-up of the customer, cancelled when the owner no longer holds the customer. The pools write
    follow-up tasks in bulk (``pools.moves``): every column here has a value there too. No declared database
    foreign keys (Django's on_delete still deletes or clears the tasks of a deleted user, customer or group):
    their deferred checks at commit were a large part of a pool run on PostgreSQL."""

    type = models.CharField(_("type"), max_length=16, choices=TaskType.choices, default=TaskType.NORMAL)
    name = models.CharField(_("name"), max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks",
                              verbose_name=_("owner"), db_index=False, db_constraint=False)  # task_owner_idx
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("creator"), db_index=False, db_constraint=False)  # task_creator_idx
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+", verbose_name=_("customer"), db_index=False,
                                 db_constraint=False)  # task_customer_idx
    group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("group"), db_constraint=False)
    due_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=TaskPriority.choices,
                                                default=TaskPriority.MEDIUM)
    progress = models.CharField(_("progress"), max_length=16, choices=TaskProgress.choices,
                                default=TaskProgress.NOT_STARTED)
    remind_at = models.DateTimeField(_("reminder time"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)  # the reminder was sent
    overdue_notified_at = models.DateTimeField(_("overdue notice sent at"), null=True, blank=True)
    details = models.TextField(_("details"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [models.Index(fields=["owner", "progress", "due_at"], name="task_owner_idx"),
                   # the creator's lists: tasks without a creator (the pools' follow-up tasks) stay out of their indexes
                   models.Index(fields=["creator", "progress", "due_at"], name="task_creator_idx",
                                condition=models.Q(creator__isnull=False)),
                   # the task list ("mine" / "created", every progress, by deadline): a page is the first rows of
                   # the index, not a sort of all the owner's tasks (20,000 for a busy salesperson)
                   models.Index(fields=["owner", "due_at", "id"], name="task_owner_due_idx"),
                   models.Index(fields=["creator", "due_at", "id"], name="task_creator_due_idx",
                                condition=models.Q(creator__isnull=False)),
                   models.Index(fields=["customer", "progress"], name="task_customer_idx"),
                   # the reminders (sales/services/reminders.py) read open tasks not yet reminded: a task closed
                   # before its reminder time leaves the index (it is never reminded, never read again)
                   models.Index(fields=["remind_at"], name="task_remind_open_idx",
                                condition=models.Q(remind_at__isnull=False, reminded_at__isnull=True,
                                                   progress__in=["not_started", "in_progress"])),
                   # the follow-up workspace: the owner's open follow-up tasks alone
                   models.Index(fields=["owner", "-priority", "due_at"], name="task_follow_up_open_idx",
                                condition=models.Q(type="follow_up", customer__isnull=False,
                                                   progress__in=["not_started", "in_progress"])),
                   # the overdue notices (sales/services/reminders.py) read open tasks not yet noticed
                   models.Index(fields=["due_at"], name="task_overdue_idx",
                                condition=models.Q(overdue_notified_at__isnull=True,
                                                   progress__in=["not_started", "in_progress"]))]

    @property
    def is_open(self) -> bool:
        return self.progress in OPEN_PROGRESS

    @property
    def priority_code(self) -> str:
        return PRIORITY_CODES.get(self.priority, "medium")


class Notification(models.Model):
    """站内通知: a notice to one user (a recycle warning, an assignment, a task reminder, an in-site message),
    read or not. The header's bell counts the unread ones."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    key = models.CharField(max_length=100, blank=True)  # idempotence: one notification per (user, key)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # kind "message": the in-site message this delivers (its read time is the message's read receipt)
    message = models.ForeignKey("Message", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries",
                                verbose_name=_("in-site message"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_idx")]
        constraints = [models.UniqueConstraint(fields=["user", "key"], condition=~models.Q(key=""),
                                               name="notification_unique_key")]


class MessageStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")


class Message(models.Model):
    """站内信: a notice an admin or manager writes to users, roles and departments. A draft (or one scheduled
    for later) keeps its recipients as chosen; sending expands them to users once (a department with the
    departments below it) and gives each user a :class:`Notification` of kind ``message`` pointing here: its
    read time is the read receipt."""

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("sender"))
    title = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("content"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.DRAFT)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)  # scheduled: the job sends it then
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                   verbose_name=_("recipient users"))
    roles = models.ManyToManyField("accounts.Role", blank=True, related_name="+", verbose_name=_("recipient roles"))
    departments = models.ManyToManyField("accounts.Department", blank=True, related_name="+",
                                         verbose_name=_("recipient departments"))
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("in-site message")
        verbose_name_plural = _("in-site messages")
        indexes = [models.Index(fields=["status", "send_at"], name="message_status_idx")]

    def __str__(self):
        return self.title


def message_attachment_path(instance, filename):
    import os
    import uuid

    ext = os.path.splitext(filename)[1].lower()[:16]
    return f"messages/{instance.message_id}/{uuid.uuid4().hex}{ext if ext[1:].isalnum() else ''}"


def _attachment_storage():
    from shoal.customers.models import attachment_storage

    return attachment_storage()


class MessageAttachment(models.Model):
    """A file of an in-site message, stored beside the customer attachments (outside MEDIA_ROOT): only the
    download view, which checks that the reader may read the message, serves it."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments",
                                verbose_name=_("in-site message"))
    file = models.FileField(_("file"), upload_to=message_attachment_path, storage=_attachment_storage, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message attachment")
        verbose_name_plural = _("message attachments")

    def __str__(self):
        return self.original_name
