"""The fields a condition may use: standard customer columns and enabled custom fields.

Each field has a *logical type* that decides its operators and value checks, and a storage:
a column of the customers table, or a key of the ``attributes`` JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import pgettext

from shoal.customers import standard

# Logical types
TEXT, NUMBER, DATE, DATETIME, BOOLEAN, ENUM, MULTI_ENUM = ("text", "number", "date", "datetime", "boolean",
                                                          "enum", "multi_enum")

OPERATORS = {
    TEXT: {"eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with"},
    NUMBER: {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between"},
    DATE: {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "within_last_days",
           "older_than_days"},
    DATETIME: {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "within_last_days",
               "older_than_days"},
    BOOLEAN: {"eq", "ne", "in", "not_in"},
    ENUM: {"eq", "ne", "in", "not_in"},
    MULTI_ENUM: {"contains", "not_contains"},
}
for _ops in OPERATORS.values():
    _ops.update({"is_empty", "is_not_empty"})

ALL_OPERATORS = sorted(set().union(*OPERATORS.values()))

CUSTOM_TYPE_MAP = {
    "text": TEXT, "long_text": TEXT, "phone": TEXT, "email": TEXT, "url": TEXT,
    "integer": NUMBER, "decimal": NUMBER, "money": NUMBER,
    "date": DATE, "datetime": DATETIME, "boolean": BOOLEAN, "enum": ENUM, "multi_enum": MULTI_ENUM,
}


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    type: str  # logical type
    column: str | None = None  # a Customer column, or None for attributes[key]
    nullable: bool = False  # column may hold NULL
    normalise: str | None = None  # "lower" | "phone": values are stored canonical
    choices: tuple[str, ...] = field(default=())  # enum codes, when known
    storage_type: str = ""  # the custom field's own type (for custom SQL rendering)

    @property
    def is_json(self) -> bool:
        return self.column is None


# Standard fields usable in conditions: key → (logical type, nullable, normalise)
STANDARD = {f.name: (f.type, f.nullable, f.normalise) for f in standard.FIELDS if f.condition}

# The sales-pool columns conditions may use (kept by tags, follow-ups and invitations; not standard
# fields: they are not written, imported, merged or masked): key → (logical type, column, nullable, label).
# ``invited_by`` compares the inviter's customer id; "has an inviter" is ``is_not_empty``.
POOL_FIELDS = {
    "quality_score": (NUMBER, "quality_score", False, "Quality score"),
    "last_follow_up_at": (DATETIME, "last_follow_up_at", True, "Last follow-up time"),
    "follow_up_count": (NUMBER, "follow_up_count", False, "Follow-up count"),
    "invited_by": (NUMBER, "invited_by_id", True, "Inviter"),
}


def field_expression(spec: FieldSpec):
    """The queryset expression of a field kept outside the customers table (the quality score, in
    ``customers.CustomerQuality``), None for a column or a custom field."""
    if spec.column == "quality_score":
        from shoal.customers.quality import quality_expr

        return quality_expr()
    return None


def field_catalog() -> dict[str, FieldSpec]:
    """Every field usable in a condition, by key (standard fields first, then enabled custom fields)."""
    from shoal.customers.cleaning import STANDARD_ENUMS
    from shoal.customers.models import Customer, CustomField, EnumItem

    list_items: dict[str, list[str]] = {}
    for code, item in EnumItem.objects.filter(group__code__in=STANDARD_ENUMS.values()).values_list(
            "group__code", "code"):
        list_items.setdefault(code, []).append(item)
    specs: dict[str, FieldSpec] = {}
    for key, (kind, nullable, normalise) in STANDARD.items():
        model_field = Customer._meta.get_field(key)
        choices = tuple(c for c, _ in (model_field.choices or ()))
        if key in STANDARD_ENUMS:
            choices = tuple(list_items.get(STANDARD_ENUMS[key], ()))
        specs[key] = FieldSpec(key=key, label=str(model_field.verbose_name), type=kind, column=key,
                               nullable=nullable, normalise=normalise, choices=choices)
    for key, (kind, column, nullable, label) in POOL_FIELDS.items():
        specs[key] = FieldSpec(key=key, label=pgettext("condition field", label), type=kind, column=column,
                               nullable=nullable)
    items: dict[int, list[str]] = {}
    for group_id, code in EnumItem.objects.values_list("group_id", "code"):
        items.setdefault(group_id, []).append(code)
    for cf in CustomField.objects.filter(enabled=True).order_by("order", "id"):
        kind = CUSTOM_TYPE_MAP.get(cf.type, TEXT)
        specs.setdefault(cf.key, FieldSpec(
            key=cf.key, label=cf.label, type=kind, column=None,
            normalise="lower" if cf.type == "email" else ("phone" if cf.type == "phone" else None),
            choices=tuple(items.get(cf.enum_group_id, ())), storage_type=cf.type))
    return specs
