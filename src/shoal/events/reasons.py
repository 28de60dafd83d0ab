"""Why an event was refused: a code stored with the event, its words in the reader's language, and the HTTP
status the sender gets.

The detail (``reason_detail``) holds the values the words name (the field, the expected type…)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# code → (words with %(name)s placeholders filled from the detail, HTTP status)
REASONS = {
    "application_disabled": (_("The application is disabled"), 403),
    "ip_not_allowed": (_("The address %(ip)s is not in the application's IP allow list"), 403),
    "origin_not_allowed": (_("The page's origin %(origin)s may not use this publishable key"), 403),
    "event_not_allowed": (_("The publishable key may not send the event %(event)s"), 403),
    "invalid_event": (_("The event is not valid: %(problem)s"), 400),
    "too_large": (_("The event is larger than %(limit)s bytes"), 413),
    "unknown_event": (_("Unknown event type %(event)s"), 400),
    "event_disabled": (_("The event type %(event)s is disabled"), 400),
    "missing_field": (_("The required field %(field)s is missing"), 400),
    "wrong_type": (_("The field %(field)s must be of type %(expected)s"), 400),
    "bad_timestamp": (_("The timestamp is not an ISO 8601 date and time: %(value)s"), 400),
    "invalid_customer": (_("The customer is not identified: %(problem)s"), 400),
    "unknown_customer": (_("No customer matches, and this event type does not create customers"), 400),
    "customer_conflict": (_("The identity values belong to different customers"), 409),
}

# The problems of "invalid_event" (detail "problem_code"), in words.
PROBLEMS = {
    "not_object": _("each event must be a JSON object"),
    "no_event": _('"event" (the event type code) is required'),
    "bad_id": _('"id" must be a text of at most 128 characters'),
    "bad_data": _('"data" must be an object'),
    "bad_customer": _('"customer" must be an object with ent_user_id, mobile or email'),
    "unknown_keys": _("unknown keys: %(keys)s"),
    "bad_json": _("the body is not valid JSON"),
    "bad_batch": _('send {"events": [ … ]} with at most 1000 events and no other key'),
}


class Refusal(Exception):
    """An event refused for ``code`` (a key of REASONS) with ``detail``."""

    def __init__(self, code: str, **detail):
        super().__init__(code)
        self.code = code
        self.detail = detail


def invalid(problem: str, **values) -> Refusal:
    return Refusal("invalid_event", problem_code=problem, **values)


def reason_text(code: str, detail: dict | None) -> str:
    """The reason in the active language ("" for none)."""
    if not code:
        return ""
    words, _status = REASONS.get(code, (code, 400))
    values = dict(detail or {})
    if code == "invalid_event":
        problem = PROBLEMS.get(values.get("problem_code"), values.get("problem_code", ""))
        try:
            values["problem"] = str(problem) % values if "%(" in str(problem) else str(problem)
        except (KeyError, TypeError, ValueError):
            values["problem"] = str(problem)
    if code == "invalid_customer" and "problem" not in values:
        values["problem"] = ""
    try:
        return str(words) % values if "%(" in str(words) else str(words)
    except (KeyError, TypeError, ValueError):
        return str(words).split("%(")[0].strip()


def reason_status(code: str) -> int:
    return REASONS.get(code, ("", 400))[1]


def reason_error(code: str, detail: dict | None) -> dict:
    """The API error body of a refused event: ``{"code", "message", "detail"}``."""
    return {"code": code, "message": reason_text(code, detail), "detail": dict(detail or {})}
