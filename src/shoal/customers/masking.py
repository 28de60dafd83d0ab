"""The one masking function for customer output (脱敏): pages, API, exports, previews, errors.

When the MASKING_ENABLED parameter is on, lists always show masked values; a detail view reveals
them only when the viewer's masking policy allows it for this customer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from django.db.models import Q

from shoal.accounts.models import MaskingPolicy, User
from shoal.core import parameters, request_memo
from shoal.core.actors import is_system

from . import standard
from .models import CustomerGroupMembership, CustomField, FieldType

MASKED_FIELDS = standard.MASKED_FIELDS
CONTEXTS = ("list", "detail")


def masking_enabled() -> bool:
    return bool(parameters.get("MASKING_ENABLED"))


@functools.lru_cache(maxsize=16)
def _own_country(region: str) -> tuple[str, re.Pattern | None] | None:
    """("+<country code>", the region's national-prefix pattern) when the code belongs to this region alone
    (+86: CN); None when it is shared (+1: US, CA, …) or unknown."""
    import phonenumbers
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    code = phonenumbers.country_code_for_region(region)
    metadata = PhoneMetadata.metadata_for_region(region)
    if not code or metadata is None or COUNTRY_CODE_TO_REGION_CODE.get(code) != (region,):
        return None
    pattern = metadata.national_prefix_for_parsing
    return f"+{code}", re.compile(pattern) if pattern else None


def domestic_phone(value: str, region: str | None = None) -> str:
    """A number of the default region (or ``region``) without its country code (``+8613800138000`` →
    ``13800138000``); other text as it is. Plain ``+<digits>`` numbers are decided without parsing (a masked
    list or an export of a million rows would spend 30 µs each in the parser): the same answer, as the tests
    check."""
    text = str(value)
    if not text.startswith("+"):
        return text
    if region is None:
        from .identity import default_region

        region = default_region()
    own = _own_country(region)
    if own is not None and text[1:].isascii() and text[1:].isdigit():
        prefix, national_prefix = own
        if not text.startswith(prefix):
            return text  # another country's code (country codes are prefix-free)
        rest = text[len(prefix):]
        if 2 <= len(rest) <= 17 and rest[0] != "0" and not (national_prefix and national_prefix.match(rest)):
            return rest  # what the parser answers: nothing to strip, the national number as it is
    return _domestic_parsed(text, region)


def _domestic_parsed(text: str, region: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
        if phonenumbers.region_code_for_number(number) == region:
            return str(number.national_number)
    except phonenumbers.NumberParseException:
        pass
    return text


def mask_phone(value: str | None, region: str | None = None) -> str | None:
    """``+8613800138000`` / ``13800138000`` → ``138****8000`` (``region``: the default region, when known)."""
    if not value:
        return value
    text = domestic_phone(str(value), region)
    if len(text) >= 8:
        return text[:3] + "****" + text[-4:]
    if len(text) >= 4:
        return text[:1] + "***" + text[-1:]
    return "****"


def mask_email(value: str | None) -> str | None:
    """``zhang@example.com`` → ``z***@example.com``."""
    if not value:
        return value
    local, sep, domain = str(value).partition("@")
    if not sep:
        return mask_phone(value)
    return (local[:1] or "*") + "***@" + domain


def sensitive_custom_fields() -> dict[str, str]:
    """Custom field keys whose values are masked, with their type (phone or email)."""
    return dict(request_memo.memo("sensitive_custom_fields", lambda: dict(
        CustomField.objects.filter(type__in=[FieldType.PHONE, FieldType.EMAIL]).values_list("key", "type"))))


def masked_field_keys(*, viewer) -> frozenset[str]:
    """The customer fields (standard names and custom keys) whose values ``viewer`` may not recover.

    A filter, sort or search over such a field would be an oracle (counts of ``mobile starts with
    138…`` recover the number digit by digit), so only exact matches and emptiness tests are allowed
    on them. Empty when masking is off, for the system (``SYSTEM``) and for a "no masking" policy."""
    if is_system(viewer) or not masking_enabled():
        return frozenset()
    if isinstance(viewer, User) and viewer.is_active and viewer.masking_policy == MaskingPolicy.NONE:
        return frozenset()
    return frozenset(MASKED_FIELDS) | frozenset(sensitive_custom_fields())


def may_reveal(*, viewer, customer) -> bool:
    """Whether the viewer's policy reveals this customer's data on a detail view."""
    if not isinstance(viewer, User) or not viewer.is_active:
        return False
    policy = viewer.masking_policy
    if policy == MaskingPolicy.NONE:
        return True
    if policy == MaskingPolicy.MASK_ALL or customer is None:
        return False
    memberships = CustomerGroupMembership.objects.filter(customer_id=getattr(customer, "pk", customer))
    if policy == MaskingPolicy.EXCEPT_PRIVATE:
        # private sea: held by the viewer now (not parked in the recycle bin)
        return (not getattr(customer, "in_recycle_bin", False)
                and memberships.filter(salesperson=viewer).exists())
    if policy == MaskingPolicy.EXCEPT_ASSIGNED:
        return memberships.filter(salesperson=viewer).exists()
    if policy == MaskingPolicy.EXCEPT_GROUPS:
        return memberships.filter(Q(group__admins=viewer) | Q(salesperson=viewer)).exists()
    return False


def unmasked_ids(*, viewer, customers) -> set[int]:
    """The ids of ``customers`` (instances) whose data the viewer may see unmasked on a detail view (what
    ``not should_mask(context="detail")`` answers for each), for a page of customers in one query at most: e.g.
    whether a list may offer a ``tel:`` link with the real number."""
    customers = list(customers)
    ids = {c.pk for c in customers}
    if not masking_enabled():
        return ids
    if not isinstance(viewer, User) or not viewer.is_active or not ids:
        return set()
    policy = viewer.masking_policy
    if policy == MaskingPolicy.NONE:
        return ids
    memberships = CustomerGroupMembership.objects.filter(customer_id__in=ids)
    if policy in (MaskingPolicy.EXCEPT_PRIVATE, MaskingPolicy.EXCEPT_ASSIGNED):
        held = set(memberships.filter(salesperson=viewer).values_list("customer_id", flat=True))
        if policy == MaskingPolicy.EXCEPT_PRIVATE:  # not parked in the recycle bin (see may_reveal)
            return {c.pk for c in customers if c.pk in held and not getattr(c, "in_recycle_bin", False)}
        return held
    if policy == MaskingPolicy.EXCEPT_GROUPS:
        return set(memberships.filter(Q(group__admins=viewer) | Q(salesperson=viewer))
                   .values_list("customer_id", flat=True))
    return set()


def should_mask(*, viewer, customer, context: str = "list") -> bool:
    if context not in CONTEXTS:
        raise ValueError(f"unknown masking context {context}")
    if not masking_enabled():
        return False
    if context == "list":
        return True
    return not may_reveal(viewer=viewer, customer=customer)


def _mask_value(kind: str, value):
    if isinstance(value, list):
        return [_mask_value(kind, v) for v in value]
    return mask_email(value) if kind in ("email", FieldType.EMAIL) else mask_phone(value)


def mask_customer(data: dict, *, viewer, customer, context: str = "list",
                  sensitive: dict[str, str] | None = None, decided: bool | None = None) -> dict:
    """A copy of ``data`` (a customer's output) with sensitive values masked if the viewer must not see them.

    ``sensitive`` (custom keys → type) and ``decided`` (the result of :func:`should_mask`) may be
    passed to avoid queries when masking many rows.
    """
    mask = should_mask(viewer=viewer, customer=customer, context=context) if decided is None else decided
    if not mask:
        return dict(data)
    out = dict(data)
    for name in MASKED_FIELDS:
        if out.get(name):
            out[name] = _mask_value(name, out[name])
    sensitive = sensitive_custom_fields() if sensitive is None else sensitive
    if isinstance(out.get("attributes"), dict):
        attrs = dict(out["attributes"])
        for key, kind in sensitive.items():
            if attrs.get(key):
                attrs[key] = _mask_value(kind, attrs[key])
        out["attributes"] = attrs
    if isinstance(out.get("contacts"), list):
        out["contacts"] = [{**c, **{n: _mask_value(n, c[n]) for n in ("phone", "email") if c.get(n)}}
                           for c in out["contacts"]]
    out["masked"] = True
    return out


def mask_customer_rows(rows: Iterable, *, viewer, context: str = "list", fields: tuple[str, ...] = ()) -> list[dict]:
    """The output dicts of many customers (model instances), each masked as :func:`mask_customer` would,
    with the sensitive custom fields and the parameters read once (and, for a list, the masking decision made
    once: it does not depend on the customer). ``fields``: only these standard fields (e.g. a task card's name and
    mobile: the rows may then be read with ``.only(...)``), else the customer's whole output."""
    from .quality import fill_scores
    from .selectors import customer_dict

    if not fields:  # the whole output carries the quality score: the rows' scores in one query
        rows = fill_scores(rows)

    def output(customer) -> dict:
        return {f: getattr(customer, f) for f in fields} if fields else customer_dict(customer)

    # the parameters (masking on, the phone region each phone number is read in) once for all the rows, not once a
    # row: a page of 100 customers made 100 queries of DEFAULT_PHONE_REGION
    with parameters.cached():
        parameters.prefetch("MASKING_ENABLED", "DEFAULT_PHONE_REGION")
        mask = should_mask(viewer=viewer, customer=None, context=context) if context == "list" else None
        custom = not fields or "attributes" in fields  # the custom fields' values are in the output
        sensitive = sensitive_custom_fields() if mask is not False and custom else {}
        return [mask_customer(output(c), viewer=viewer, customer=c, context=context, sensitive=sensitive,
                              decided=mask) for c in rows]


def mask_timeline(entries: Iterable[dict], *, mask: bool, sensitive: dict[str, str] | None = None) -> list[dict]:
    """Timeline entries with old/new values of sensitive fields masked (same decision as the detail)."""
    entries = list(entries)
    if not mask:
        return entries
    sensitive = sensitive_custom_fields() if sensitive is None else sensitive
    kinds = {**{n: n for n in MASKED_FIELDS}, **sensitive}
    out = []
    for e in entries:
        kind = kinds.get(e.get("field") or "")
        if kind:
            e = {**e, "old": _mask_value(kind, e.get("old")) if e.get("old") else e.get("old"),
                 "new": _mask_value(kind, e.get("new")) if e.get("new") else e.get("new")}
        out.append(e)
    return out
