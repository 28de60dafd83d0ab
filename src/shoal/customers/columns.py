"""The customer list columns a user chose and ordered (standard fields + custom fields shown in lists)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shoal.core import request_memo

from . import page_extensions, standard
from .models import Customer, CustomerListPreference, CustomField

CUSTOM_PREFIX = "cf:"
STANDARD_COLUMNS = standard.names(column=True)
DEFAULT_COLUMNS = standard.placed("default_column")


def _label(code: str) -> str:
    if code == "id":
        return str(_("ID"))
    return str(Customer._meta.get_field(code).verbose_name)


def custom_list_fields() -> list[CustomField]:
    return list(request_memo.memo("custom_list_fields",
                                  lambda: list(CustomField.objects.filter(enabled=True, show_in_list=True))))


def available(definitions: list[CustomField] | None = None) -> list[dict]:
    """Every column the user may choose: ``{"code", "label", "custom"}``."""
    definitions = custom_list_fields() if definitions is None else definitions
    cols = [{"code": c, "label": _label(c), "custom": False} for c in STANDARD_COLUMNS]
    cols += [{"code": CUSTOM_PREFIX + d.key, "label": d.label, "custom": True, "definition": d}
             for d in definitions]
    cols += [{"code": c.code, "label": str(c.label), "custom": False} for c in page_extensions.LIST_COLUMNS.values()]
    return cols


def _added_by_default(code: str) -> bool:
    """Custom fields shown in lists and the default columns of other apps."""
    column = page_extensions.LIST_COLUMNS.get(code)
    return code.startswith(CUSTOM_PREFIX) or (column is not None and column.default)


def default_columns(codes: list[str]) -> list[str]:
    return [c for c in DEFAULT_COLUMNS if c in codes] + [c for c in codes if _added_by_default(c)]


def user_columns(user, definitions: list[CustomField] | None = None) -> list[str]:
    """The columns shown to ``user``, in order. Without a saved choice: the defaults plus every custom
    field shown in lists; columns offered after the choice was saved are appended."""
    codes = [c["code"] for c in available(definitions)]
    pref = CustomerListPreference.objects.filter(user_id=getattr(user, "pk", None)).first()
    if pref is None or not pref.columns:
        return default_columns(codes)
    chosen = [c for c in pref.columns if c in codes]
    known = set(pref.known or [])
    chosen += [c for c in codes if c not in known and c not in chosen and _added_by_default(c)]
    return chosen or default_columns(codes)


def save_user_columns(user, columns: list[str]) -> list[str]:
    """Keep ``columns`` (in this order, unknown and repeated codes dropped) as ``user``'s choice."""
    codes = [c["code"] for c in available()]
    chosen = list(dict.fromkeys(c for c in columns if c in codes))
    CustomerListPreference.objects.update_or_create(user=user, defaults={"columns": chosen, "known": codes})
    return chosen


def reset_user_columns(user) -> None:
    CustomerListPreference.objects.filter(user=user).delete()
