"""SMS providers: an interface, a generic HTTP gateway (through the guarded outbound client) and a log
provider for development. ``SHOAL_SMS_PROVIDER`` picks one: ``log`` (default), ``http`` or the dotted path
of a class with the same ``send``."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from shoal.core import outbound

from . import placeholders

logger = logging.getLogger("shoal.automation.sms")


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message_id: str = ""
    error: str = ""
    response_code: int | None = None
    logged_only: bool = False  # nothing left the machine (development providers)


class SmsProvider(Protocol):
    name: str

    def send(self, *, mobile: str, content: str, template: str, variables: dict) -> SendResult: ...


class LogProvider:
    """Development: the message is written to the log (and the SMS log), not sent."""

    name = "log"

    def send(self, *, mobile: str, content: str, template: str, variables: dict) -> SendResult:
        logger.info("SMS to %s: %s", mobile, content)
        return SendResult(ok=True, message_id=f"log-{uuid.uuid4().hex[:12]}", logged_only=True)


class HttpProvider:
    """A gateway called with a body template: ``${mobile}``, ``${content}``, ``${template}`` (the provider's
    template id, or the template code), ``${variables}`` (an object). Any 2xx answer is success."""

    name = "http"

    def __init__(self, *, url: str, method: str = "POST", auth: str = "", body: str = ""):
        self.url, self.method, self.auth, self.body = url, method.upper(), auth, body

    @classmethod
    def from_settings(cls) -> HttpProvider:
        return cls(url=settings.SHOAL_SMS_HTTP_URL, method=settings.SHOAL_SMS_HTTP_METHOD,
                   auth=settings.SHOAL_SMS_HTTP_AUTH, body=settings.SHOAL_SMS_HTTP_BODY)

    def send(self, *, mobile: str, content: str, template: str, variables: dict) -> SendResult:
        if not self.url:
            return SendResult(ok=False, error=_("No SMS gateway URL is configured (SHOAL_SMS_HTTP_URL)"))
        values = placeholders.Values(extra={"mobile": mobile, "content": content, "template": template,
                                            "variables": variables})
        try:
            body = json.loads(self.body)
            content_bytes = outbound.json_body(placeholders.render_json(body, values))
            content_type = "application/json"
        except ValueError:  # not JSON: a form-encoded template (``mobile=${mobile}&text=${content}``)
            from urllib.parse import quote_plus

            content_bytes = placeholders.render_text(self.body, values, escape=quote_plus).encode()
            content_type = "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type}
        if self.auth:
            headers["Authorization"] = self.auth
        try:
            response = outbound.request(self.method, self.url, headers=headers, content=content_bytes,
                                        max_bytes=64 * 1024, truncate=True)
        except outbound.OutboundError as exc:
            return SendResult(ok=False, error=exc.message)
        if 200 <= response.status_code < 300:
            message_id = ""
            try:
                answer = json.loads(response.body or b"null")
                if isinstance(answer, dict):
                    message_id = str(answer.get("id") or answer.get("message_id") or answer.get("BizId") or "")
            except ValueError:
                pass
            return SendResult(ok=True, message_id=message_id[:200], response_code=response.status_code)
        return SendResult(ok=False, response_code=response.status_code,
                          error=_("The SMS gateway answered %(code)s: %(text)s")
                          % {"code": response.status_code, "text": response.text[:300]})


def provider() -> SmsProvider:
    name = (settings.SHOAL_SMS_PROVIDER or "log").strip()
    if name == "log":
        return LogProvider()
    if name == "http":
        return HttpProvider.from_settings()
    return import_string(name)()
