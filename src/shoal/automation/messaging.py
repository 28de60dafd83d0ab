"""Sending SMS and email from message templates, each logged (短信发送记录 / 邮件发送日志), and the ``sms`` and
``email`` processors.

A send with a ``key`` (a processor call's delivery id) happens once: the log row is written first with the
key unique, so a second send of the same key answers the first one's result and sends nothing. Email goes
over SMTP with ``SHOAL_SMTP_*`` (Django's SMTP backend, built here with those settings whatever
``EMAIL_BACKEND`` says); with no ``SHOAL_SMTP_HOST`` it is only logged (status "logged only")."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from shoal.core.processors import FAILED, SUCCEEDED, ProcessorResult, ProcessorSpec

from . import placeholders, sms
from .models import Channel, MessageLog, MessageStatus, MessageTemplate

logger = logging.getLogger("shoal.automation.messaging")


def template_get(channel: str, ref) -> MessageTemplate | None:
    """An enabled or disabled template of ``channel`` by id (a number) or code."""
    qs = MessageTemplate.objects.filter(channel=channel)
    text = str(ref).strip()
    found = qs.filter(code=text).first()
    if found is None and text.isdigit():
        found = qs.filter(pk=int(text)).first()
    return found


def _result_of(log: MessageLog, started: float | None = None) -> ProcessorResult:
    status = {MessageStatus.SENT: SUCCEEDED, MessageStatus.LOGGED: SUCCEEDED}.get(log.status, FAILED)
    duration = int((time.monotonic() - started) * 1000) if started else 0
    return ProcessorResult(status=status, error=log.error, duration_ms=duration,
                           detail={"message_log_id": log.pk, "message_status": log.status})


def _start(*, channel: str, key: str | None, recipient: str, customer_id, template: MessageTemplate | None,
           subject: str = "", content: str = "", status: str = MessageStatus.SENDING,
           error: str = "") -> tuple[MessageLog, bool]:
    """The log row of this send (written now), or the one of the same key already there. (row, new)."""
    row = MessageLog(channel=channel, key=key or None, recipient=recipient[:254], customer_id=customer_id,
                     template=template, template_code=template.code if template else "", subject=subject[:200],
                     content=content, status=status, error=error)
    if key:
        present = MessageLog.objects.filter(key=key).first()
        if present is not None:
            return present, False
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            return MessageLog.objects.get(key=key), False
    else:
        row.save()
    return row, True


def _end(row: MessageLog, *, status: str, error: str = "", provider: str = "", message_id: str = "") -> None:
    row.status, row.error, row.provider, row.provider_message_id = status, error, provider, message_id[:200]
    row.sent_at = timezone.now() if status in (MessageStatus.SENT, MessageStatus.LOGGED) else None
    row.save(update_fields=["status", "error", "provider", "provider_message_id", "sent_at"])


def sms_send(*, mobile: str, template: MessageTemplate | None, values: placeholders.Values, key: str | None = None,
             customer_id: int | None = None) -> ProcessorResult:
    started = time.monotonic()
    mobile = (mobile or "").strip()
    content = placeholders.render_text(template.content, values) if template else ""
    refusal = (_("The SMS template was not found") if template is None
               else _("The SMS template %(code)s is disabled") % {"code": template.code} if not template.enabled
               else _("No mobile number to send to") if not mobile else "")
    row, new = _start(channel=Channel.SMS, key=key, recipient=mobile, customer_id=customer_id, template=template,
                      content=content, status=MessageStatus.FAILED if refusal else MessageStatus.SENDING, error=refusal)
    if not new or refusal:
        return _result_of(row, started)
    variables = {name: placeholders.text_of(values.get(name)) for name in placeholders.names(template.content)}
    gateway = sms.provider()
    try:
        sent = gateway.send(mobile=mobile, content=content, template=template.provider_template or template.code,
                            variables=variables)
    except Exception as exc:  # a provider's bug must not leave the row "sending"
        logger.exception("SMS provider %s failed", getattr(gateway, "name", gateway))
        sent = sms.SendResult(ok=False, error=_("The SMS provider failed: %(error)s")
                              % {"error": str(exc) or type(exc).__name__})
    status = (MessageStatus.LOGGED if sent.logged_only else MessageStatus.SENT) if sent.ok else MessageStatus.FAILED
    _end(row, status=status, error=sent.error, provider=getattr(gateway, "name", ""), message_id=sent.message_id)
    out = _result_of(row, started)
    return ProcessorResult(out.status, sent.response_code, out.error, out.duration_ms, out.detail)


def smtp_connection():
    from django.core.mail.backends.smtp import EmailBackend

    tls = settings.SHOAL_SMTP_TLS
    return EmailBackend(host=settings.SHOAL_SMTP_HOST, port=settings.SHOAL_SMTP_PORT,
                        username=settings.SHOAL_SMTP_USER or None, password=settings.SHOAL_SMTP_PASSWORD or None,
                        use_tls=tls in ("starttls", "tls", "1", "true", "yes", "on"), use_ssl=tls == "ssl",
                        timeout=settings.SHOAL_SMTP_TIMEOUT, fail_silently=False)


def email_send(*, to: str, template: MessageTemplate | None, values: placeholders.Values, key: str | None = None,
               customer_id: int | None = None) -> ProcessorResult:
    from django.core.mail import EmailMultiAlternatives

    started = time.monotonic()
    to = (to or "").strip()
    subject = placeholders.render_text(template.subject, values).replace("\n", " ") if template else ""
    text = placeholders.render_text(template.content, values) if template else ""
    refusal = (_("The email template was not found") if template is None
               else _("The email template %(code)s is disabled") % {"code": template.code} if not template.enabled
               else _("No email address to send to") if "@" not in to else "")
    row, new = _start(channel=Channel.EMAIL, key=key, recipient=to, customer_id=customer_id, template=template,
                      subject=subject, content=text,
                      status=MessageStatus.FAILED if refusal else MessageStatus.SENDING, error=refusal)
    if not new or refusal:
        return _result_of(row, started)
    if not settings.SHOAL_SMTP_HOST:
        logger.info("email to %s (no SMTP server configured): %s", to, subject)
        _end(row, status=MessageStatus.LOGGED, provider="log")
        return _result_of(row, started)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.SHOAL_SMTP_FROM, to=[to],
                                     connection=smtp_connection())
    if template.html:
        from django.utils.html import escape

        message.attach_alternative(placeholders.render_text(template.html, values, escape=escape), "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP refusals, connection errors, TLS errors: recorded, not raised
        _end(row, status=MessageStatus.FAILED, provider="smtp",
             error=(_("The SMTP server did not take the email: %(error)s")
                    % {"error": f"{type(exc).__name__}: {exc}"})[:2000])
    else:
        _end(row, status=MessageStatus.SENT, provider="smtp", message_id=message.extra_headers.get("Message-ID", ""))
    return _result_of(row, started)


# -- the processors -------------------------------------------------------------------------------------
class SmsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=64, description="SMS template code (or id)")
    mobile: str = Field("${customer.mobile}", max_length=200, description="recipient; placeholders allowed")
    variables: dict[str, str] = Field(default_factory=dict, description="template variables; placeholders allowed")


class EmailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=64, description="email template code (or id)")
    to: str = Field("${customer.email}", max_length=300, description="recipient; placeholders allowed")
    variables: dict[str, str] = Field(default_factory=dict, description="template variables; placeholders allowed")


def _with_variables(context, params) -> placeholders.Values:
    values = context.values
    rendered = {k: placeholders.render_text(v, values) for k, v in params.variables.items()}
    return values.with_extra(rendered) if rendered else values


def _customer_id(customer):
    return getattr(customer, "pk", None)


def run_sms(*, customer, event_data, params: SmsParams, context) -> ProcessorResult:
    template = template_get(Channel.SMS, params.template)
    values = _with_variables(context, params)
    return sms_send(mobile=placeholders.render_text(params.mobile, values), template=template, values=values,
                    key=context.delivery_id, customer_id=_customer_id(customer))


def run_email(*, customer, event_data, params: EmailParams, context) -> ProcessorResult:
    template = template_get(Channel.EMAIL, params.template)
    values = _with_variables(context, params)
    return email_send(to=placeholders.render_text(params.to, values), template=template, values=values,
                      key=context.delivery_id, customer_id=_customer_id(customer))


def _template_placeholders(channel: str):
    def needs(params) -> tuple[set[str], set[str]]:
        template = template_get(channel, params.template)
        texts = [] if template is None else [template.content, template.subject, template.html]
        return placeholders.names(texts), set(params.variables)

    return needs


def check_template(channel: str, params) -> None:
    """A strategy may only name an existing template."""
    from shoal.core.errors import ShoalError

    if template_get(channel, params.template) is None:
        raise ShoalError("invalid", _("No %(channel)s template %(code)s")
                         % {"channel": Channel(channel).label, "code": params.template}, {"field": "template"})


SMS = ProcessorSpec("sms", pgettext_lazy("processor", "Send SMS"), run_sms, SmsParams, template_params=("mobile", "variables"),
                    description=gettext_lazy("Sends an SMS from a message template to the customer's mobile."),
                    param_labels={"template": pgettext_lazy("processor parameter", "Template"), "mobile": pgettext_lazy("processor parameter", "Mobile"),
                                  "variables": pgettext_lazy("processor parameter", "Template variables")},
                    order=50, placeholders=_template_placeholders(Channel.SMS),
                    check=lambda params: check_template(Channel.SMS, params))
EMAIL = ProcessorSpec("email", pgettext_lazy("processor", "Send email"), run_email, EmailParams, template_params=("to", "variables"),
                      description=gettext_lazy("Sends an email from a message template to the customer's address."),
                      param_labels={"template": pgettext_lazy("processor parameter", "Template"), "to": pgettext_lazy("processor parameter", "Recipient"),
                                    "variables": pgettext_lazy("processor parameter", "Template variables")},
                      order=60, placeholders=_template_placeholders(Channel.EMAIL),
                      check=lambda params: check_template(Channel.EMAIL, params))
