"""Custom HTTP processors, message templates, processor calls (with the webhook attempts) and the SMS and
email logs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"


class Processor(models.Model):
    """A custom HTTP processor (扩展处理器): a webhook called with ``${field}`` placeholders filled in."""

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=64, unique=True)
    url = models.CharField(_("URL"), max_length=2000)
    method = models.CharField(_("HTTP method"), max_length=8, choices=HttpMethod.choices, default=HttpMethod.POST)
    params = models.JSONField(_("query parameters"), default=dict, blank=True)
    body = models.JSONField(_("body"), null=True, blank=True)  # an object, or a text template, or none
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    timeout = models.PositiveSmallIntegerField(_("timeout (seconds)"), default=10)
    secret = models.CharField(max_length=100)  # whsec_<base64>: signs the calls; shown once
    enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(_("disabled because"), max_length=200, blank=True)
    remarks = models.CharField(_("remarks"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("processor")
        verbose_name_plural = _("processors")

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", pgettext_lazy("channel", "Email")


class MessageTemplate(models.Model):
    """A message template (消息模板) of SMS or email, with ``${var}`` placeholders."""

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    name = models.CharField(_("template name"), max_length=100)
    code = models.CharField(_("template code"), max_length=64)
    provider_template = models.CharField(_("provider template"), max_length=100, blank=True,
                                         help_text=_("The SMS provider's own template id, when it needs one."))
    subject = models.CharField(_("subject"), max_length=200, blank=True)  # email
    content = models.TextField(_("content"))  # the SMS text, or the email's plain text
    html = models.TextField(_("HTML"), blank=True)  # email
    enabled = models.BooleanField(_("enabled"), default=True)
    remarks = models.CharField(_("remarks"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["channel", "name", "id"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [models.UniqueConstraint(fields=["channel", "code"], name="message_template_code")]

    def __str__(self) -> str:
        return f"{self.name} [{self.code}]"


class CallStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # due at next_attempt_at (the first attempt, or a retry)
    RUNNING = "running", _("Running")  # claimed by a worker until claimed_until
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class ProcessorCall(models.Model):
    """One run of a processor for one action on one event (``key``: the caller's delivery id, unique: a
    second run with the same key does nothing and answers the first one's result). Calls of custom HTTP
    processors are durable deliveries: their request is rendered once, and each attempt is claimed by one
    worker (``status`` pending → running with a lease) and recorded as a :class:`DeliveryAttempt`."""

    key = models.CharField(max_length=200, unique=True)
    processor_code = models.CharField(_("processor"), max_length=64)
    processor = models.ForeignKey(Processor, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True)
    event_code = models.CharField(_("event"), max_length=64, blank=True)
    event_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=CallStatus.choices, default=CallStatus.PENDING)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    detail = models.JSONField(default=dict, blank=True)
    # webhook delivery
    webhook_id = models.CharField(max_length=64, blank=True)  # the webhook-id header: the same on every retry
    request = models.JSONField(default=dict, blank=True)  # {"method", "url", "headers", "body"} rendered once
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("processor call")
        verbose_name_plural = _("processor calls")
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="call_due_idx"),
            models.Index(fields=["claimed_until"], condition=models.Q(status="running"), name="call_lease_idx"),
            models.Index(fields=["processor", "status"], name="call_processor_idx"),
            models.Index(fields=["created_at"], name="call_created_idx"),  # the retention
        ]


class DeliveryAttempt(models.Model):
    """One attempt of a webhook delivery: (call, number) is unique, so no attempt is made twice."""

    call = models.ForeignKey(ProcessorCall, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    response_body = models.TextField(blank=True)  # the start of the answer
    outcome = models.CharField(max_length=16, blank=True)  # succeeded | retry | failed

    class Meta:
        ordering = ["call", "number"]
        constraints = [models.UniqueConstraint(fields=["call", "number"], name="delivery_attempt_once")]


class MessageStatus(models.TextChoices):
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    LOGGED = "logged", _("Logged only")  # development: no provider / no SMTP server configured
    FAILED = "failed", _("Failed")


class MessageLog(models.Model):
    """短信发送记录 / 邮件发送日志: one SMS or email sent (or refused), its recipient, status and error."""

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    key = models.CharField(max_length=200, null=True, blank=True, unique=True)  # the processor call's key
    recipient = models.CharField(_("recipient"), max_length=254)
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True)
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("template"))
    template_code = models.CharField(_("template code"), max_length=64, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    content = models.TextField(_("content"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.SENDING)
    provider = models.CharField(_("provider"), max_length=64, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message log entry")
        verbose_name_plural = _("message log")
        indexes = [models.Index(fields=["channel", "-created_at"], name="message_log_channel_idx"),
                   models.Index(fields=["customer_id"], name="message_log_customer_idx")]
