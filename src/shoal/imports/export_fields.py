"""The fields a customer export may contain (standard, custom, tags and score, groups and salespeople), their
labels in the active language, and the default choice (the user's customer list columns)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shoal.accounts.models import User
from shoal.core.errors import ShoalError
from shoal.customers import standard
from shoal.customers.models import Customer, CustomField

MAX_FIELDS = 300
CUSTOM_PREFIX = "cf:"  # a custom field may always be named cf:<key> (needed when its key is taken)

GROUP_LABELS = {
    "standard": gettext_lazy("Standard fields"),
    "custom": gettext_lazy("Custom fields"),
    "tags": gettext_lazy("Tags and quality score"),
    "ownership": gettext_lazy("Groups and salespeople"),
}


# -- the fields ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportField:
    key: str  # as the caller names it
    label: str  # the header, in the active language
    group: str  # standard | custom | tags | ownership
    kind: str  # how the value is read and shown (see _cell_function)
    column: str | None = None  # the values_list column (None: from attributes, tags or memberships)
    definition: CustomField | None = None

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "group": self.group, "group_label": str(GROUP_LABELS[self.group])}


STANDARD_KINDS = {"id": "number", "mobile": "mobile", "phone": "phone", "email": "email", "gender": "enum",
                  "status": "enum", "source": "enum", "customer_type": "enum", "lifecycle_stage": "enum",
                  "birthday": "date", "created_at": "datetime", "updated_at": "datetime",
                  "registered_at": "datetime", "company": "text", "in_recycle_bin": "flag"}


def _standard_label(name: str) -> str:
    if name == "id":
        return _("ID")
    if name == "company":
        return _("company")
    return str(Customer._meta.get_field(name).verbose_name)


def export_fields(*, definitions: list[CustomField] | None = None) -> list[ExportField]:
    """Every exportable field, in order: standard, tags and score, groups and salespeople, custom fields."""
    fields = []
    for spec in standard.FIELDS:
        if spec.name == "company_id":
            continue
        column = "company__name" if spec.name == "company" else spec.name
        fields.append(ExportField(spec.name, _standard_label(spec.name), "standard",
                                  STANDARD_KINDS.get(spec.name, "text"), column))
    fields.append(ExportField("tags", _("Tags"), "tags", "tags"))
    fields.append(ExportField("quality_score", _("Quality score"), "tags", "number", "quality_score"))
    fields.append(ExportField("groups", _("Customer groups"), "ownership", "groups"))
    fields.append(ExportField("salespeople", _("Salespeople"), "ownership", "salespeople"))
    taken = {f.key for f in fields}
    if definitions is None:
        definitions = list(CustomField.objects.filter(enabled=True).order_by("order", "id"))
    for definition in definitions:
        key = definition.key if definition.key not in taken else CUSTOM_PREFIX + definition.key
        fields.append(ExportField(key, definition.label, "custom", "custom", None, definition))
    return fields


def resolve_fields(keys: list[str] | None, *, actor=None) -> list[ExportField]:
    """The fields named by ``keys`` (in that order, repeats dropped); None or empty: the actor's list columns.
    Unknown keys: ShoalError ``invalid_fields`` naming them."""
    catalog = export_fields()
    by_key = {f.key: f for f in catalog}
    by_key.update({CUSTOM_PREFIX + f.definition.key: f for f in catalog if f.definition is not None})
    if not keys:
        keys = default_field_keys(actor=actor, catalog=catalog)
    if not isinstance(keys, list | tuple) or not all(isinstance(k, str) for k in keys):
        raise ShoalError("invalid_fields", _("Give the fields as a list of field keys"), {"field": "fields"})
    keys = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ShoalError("invalid_fields", _("Unknown fields: %(keys)s") % {"keys": ", ".join(unknown[:20])},
                         {"field": "fields", "unknown": unknown[:100]})
    if len(keys) > MAX_FIELDS:
        raise ShoalError("invalid_fields", _("At most %(n)d fields may be exported") % {"n": MAX_FIELDS},
                         {"field": "fields"})
    chosen = list(dict.fromkeys(by_key[k] for k in keys))
    if not chosen:
        raise ShoalError("invalid_fields", _("Choose at least one field"), {"field": "fields"})
    return chosen


def default_field_keys(*, actor=None, catalog: list[ExportField] | None = None) -> list[str]:
    """The columns the actor's customer list shows (their choice, else the defaults), as export keys."""
    from shoal.customers import columns

    catalog = export_fields() if catalog is None else catalog
    known = {f.key for f in catalog}
    custom = {f.definition.key: f.key for f in catalog if f.definition is not None}
    codes = columns.user_columns(actor) if isinstance(actor, User) else columns.default_columns(
        [c["code"] for c in columns.available()])
    keys = []
    for code in codes:
        if code.startswith(columns.CUSTOM_PREFIX):
            code = custom.get(code[len(columns.CUSTOM_PREFIX):], "")
        if code in known:
            keys.append(code)
    return keys or ["id", "name", "mobile", "email"]


def split_keys(value: str | list | None) -> list[str]:
    """``"name, mobile,cf:plan"`` → ``["name", "mobile", "cf:plan"]``."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]

