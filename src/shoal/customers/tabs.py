"""Admin-configured tabs of the customer detail page (客户详情TABS): URL templates with placeholders."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from .models import Customer, DetailTab

PLACEHOLDERS = ("id", "ent_user_id")
PLACEHOLDER_RE = re.compile(r"\$\{([^}]*)\}")
SCHEMES = ("http", "https")
_validator = URLValidator(schemes=list(SCHEMES))


def validate_tab_url(url: str) -> str:
    """The URL template, stripped; ValidationError unless it is an http(s) URL whose only placeholders
    are ``${id}`` and ``${ent_user_id}``."""
    url = (url or "").strip()
    unknown = sorted({name for name in PLACEHOLDER_RE.findall(url) if name not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(_("Unknown placeholder %(names)s; use ${id} or ${ent_user_id}.")
                              % {"names": ", ".join("${" + n + "}" for n in unknown)})
    sample = PLACEHOLDER_RE.sub("1", url)
    if urlsplit(sample).scheme.lower() not in SCHEMES:
        raise ValidationError(_("Only http:// and https:// URLs are accepted."))
    try:
        _validator(sample)
    except ValidationError:
        raise ValidationError(_("Enter a valid http(s) URL."))
    return url


def render_tab_url(template: str, customer: Customer) -> str | None:
    """``template`` with the placeholders replaced by the customer's values, URL-encoded; None if the
    result is not an http(s) URL."""
    values = {"id": customer.pk, "ent_user_id": customer.ent_user_id or ""}
    url = PLACEHOLDER_RE.sub(lambda m: quote(str(values.get(m.group(1), "")), safe=""), template or "")
    if urlsplit(url).scheme.lower() not in SCHEMES:
        return None
    return url


def tabs_for(customer: Customer) -> list[dict]:
    tabs = []
    for tab in DetailTab.objects.filter(enabled=True).order_by("order", "id"):
        url = render_tab_url(tab.url, customer)
        if url:
            tabs.append({"key": f"tab-{tab.pk}", "name": tab.name, "url": url})
    return tabs
