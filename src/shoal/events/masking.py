"""Masking of an event's source data (脱敏) for its reader, with the customers' masking rules.

Masked: the values of keys that name a phone or an e-mail (``mobile``, ``phone``, ``tel``, ``email``,
``mail`` anywhere in the key, any depth: the customer's identity included), and, under any key, texts
that are an e-mail address or a mainland mobile number. Lists (the history list) mask whenever masking is
on; a detail view reveals what the reader's masking policy reveals for that customer."""

from __future__ import annotations

import re
from typing import Any

from shoal.customers.masking import mask_email, mask_phone, masking_enabled, should_mask

SENSITIVE_KEY = re.compile(r"mobile|phone|tel|e?mail", re.IGNORECASE)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^(\+?86[- ]?)?1[3-9]\d{9}$")
MAX_DEPTH = 20


def _mask_value(value, *, email_key: bool) -> Any:
    if isinstance(value, bool) or value is None or value == "":
        return value
    if isinstance(value, list):
        return [_mask_value(v, email_key=email_key) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, email_key=email_key) for k, v in value.items()}
    text = str(value)
    return mask_email(text) if email_key or "@" in text else mask_phone(text)


def _walk(value, depth: int = 0):
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = str(key)
            if SENSITIVE_KEY.search(name):
                out[key] = _mask_value(item, email_key="mail" in name.lower())
            else:
                out[key] = _walk(item, depth + 1)
        return out
    if isinstance(value, list):
        return [_walk(item, depth + 1) for item in value]
    if isinstance(value, str):
        if EMAIL.match(value):
            return mask_email(value)
        if MOBILE.match(value.replace(" ", "")):
            return mask_phone(value)
    return value


def mask_payload(payload, *, viewer, customer_id: int | None, detail: bool = False, decided: bool | None = None):
    """``payload`` masked for ``viewer`` (``decided``: the masking decision, when the caller made it)."""
    if decided is None:
        if not masking_enabled():
            return payload
        decided = should_mask(viewer=viewer, customer=customer_id, context="detail" if detail else "list")
    return _walk(payload) if decided else payload
