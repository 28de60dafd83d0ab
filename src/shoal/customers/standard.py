"""The standard customer fields, described once.

Every list of standard fields elsewhere (what the list page may show, what the edit form offers,
which fields identify a customer, which are masked, which a merge fills in, what conditions may use,
what the detail page shows) is derived from this table. A new standard field is one row here (and
its column on the model)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Custom field keys, JSON keys in queries and expression indexes: one pattern.
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
KEY_RE = re.compile(KEY_PATTERN)

# Logical types (shared with the condition catalog).
TEXT, NUMBER, DATE, DATETIME, ENUM, REFERENCE, FLAG = "text", "number", "date", "datetime", "enum", "reference", "flag"


@dataclass(frozen=True)
class StandardField:
    """One standard field. ``form``, ``basic`` and ``default_column`` are places (1, 2, …) in the
    edit form, the detail page's basic information and a new user's list columns; None: not there."""

    name: str  # the Customer attribute
    type: str  # logical type (TEXT, NUMBER, DATE, DATETIME, ENUM, REFERENCE, FLAG)
    max_length: int | None = None  # text limit checked by the value cleaning
    nullable: bool = False  # the column holds NULL for "no value" (else "")
    normalise: str | None = None  # "mobile" | "lower": values are stored canonical
    identity: bool = False  # may identify a customer (unique when set)
    masked: bool = False  # hidden by the masking policy
    writable: bool = True  # set through create / update / identify (the company by its id)
    column: bool = True  # may be chosen as a list column
    condition: bool = True  # usable in conditions (search, segments, rules)
    merge: bool = True  # a merge fills it in from the other customer
    enum_group: str | None = None  # values come from this enum group (configurable list)
    form: int | None = None
    basic: int | None = None
    default_column: int | None = None


FIELDS: tuple[StandardField, ...] = (
    StandardField("id", NUMBER, writable=False, merge=False, default_column=1),
    StandardField("name", TEXT, 100, form=1, default_column=2),
    StandardField("mobile", TEXT, 32, nullable=True, normalise="mobile", identity=True, masked=True,
                  form=2, basic=2, default_column=3),
    StandardField("phone", TEXT, 32, masked=True, form=3, basic=3),
    StandardField("email", TEXT, 254, nullable=True, normalise="lower", identity=True, masked=True,
                  form=4, basic=4, default_column=4),
    StandardField("ent_user_id", TEXT, 128, nullable=True, identity=True, form=5, basic=1, default_column=5),
    StandardField("gender", ENUM, form=6, basic=5),
    StandardField("birthday", DATE, nullable=True, form=7, basic=6),
    StandardField("city", TEXT, 100, form=8, basic=7),
    StandardField("qq", TEXT, 32, form=9, basic=8),
    StandardField("wechat", TEXT, 64, form=10, basic=9),
    StandardField("telegram", TEXT, 64, form=11, basic=10),
    StandardField("avatar_url", TEXT, 500, column=False, form=12),
    StandardField("source", ENUM, 64, enum_group="customer_source", form=13, basic=11, default_column=7),
    StandardField("customer_type", ENUM, 64, enum_group="customer_type", form=14, basic=12, default_column=8),
    StandardField("lifecycle_stage", ENUM, 64, enum_group="lifecycle_stage", form=15, basic=13),
    StandardField("status", ENUM, merge=False, form=16, default_column=6),
    StandardField("notes", TEXT, 10000, column=False, form=19),
    StandardField("created_at", DATETIME, writable=False, merge=False, basic=15, default_column=9),
    StandardField("updated_at", DATETIME, writable=False, merge=False, basic=16),
    StandardField("registered_at", DATETIME, nullable=True, form=17, basic=14),
    StandardField("company", REFERENCE, writable=False, condition=False, merge=False, form=18),
    StandardField("company_id", REFERENCE, column=False, condition=False),
    StandardField("in_recycle_bin", FLAG, writable=False, column=False, condition=False, merge=False),
)
BY_NAME = {f.name: f for f in FIELDS}


def names(**flags) -> tuple[str, ...]:
    """Names of the standard fields with the given flags, in table order: ``names(masked=True)``."""
    return tuple(f.name for f in FIELDS if all(getattr(f, k) == v for k, v in flags.items()))


def placed(place: str) -> tuple[str, ...]:
    """Names of the fields that have a place in ``form`` / ``basic`` / ``default_column``, in that order."""
    return tuple(f.name for f in sorted((f for f in FIELDS if getattr(f, place) is not None),
                                        key=lambda f: getattr(f, place)))


IDENTITY_FIELDS = names(identity=True)  # mobile, email, ent_user_id
MASKED_FIELDS = names(masked=True)  # mobile, phone, email
ENUM_GROUPS = {f.name: f.enum_group for f in FIELDS if f.enum_group}  # source, customer_type, lifecycle_stage
