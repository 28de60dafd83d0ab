from django.conf import settings
from django.utils.translation import gettext as _

from shoal.core.auth import page_requires
from shoal.core.views import page

from .extensions import pickers, sql_function_help


def _enum_labels() -> dict[str, dict[str, str]]:
    """{field key: {code: label}} of every enum field, so the page shows labels, never codes."""
    from shoal.customers import display
    from shoal.customers.models import CustomField

    out = display.standard_enum_labels()
    definitions = list(CustomField.objects.filter(enabled=True, type__in=["enum", "multi_enum"]))
    by_group = display.custom_enum_labels(definitions)
    for d in definitions:
        out.setdefault(d.key, by_group.get(d.enum_group_id, {}))
    return out


def condition_labels() -> dict:
    """The words of the condition rows (segments/conditions.js): operators, enum labels, the time zone."""
    return {
        "ops": {"eq": _("equals"), "ne": _("does not equal"), "in": _("is one of"), "not_in": _("is none of"),
                "gt": _("greater than"), "gte": _("at least"), "lt": _("less than"), "lte": _("at most"),
                "between": _("between"), "contains": _("contains"), "not_contains": _("does not contain"),
                "starts_with": _("starts with"), "ends_with": _("ends with"), "is_empty": _("is empty"),
                "is_not_empty": _("is not empty"), "within_last_days": _("within the last N days"),
                "older_than_days": _("more than N days ago")},
        "commaSeparated": _("values separated by commas"),
        "disabledChoice": _("%(name)s (disabled)"),
        "timeZone": settings.TIME_ZONE,
        "enums": _enum_labels(),
    }


@page_requires("customers.customers.view")
def query_page(request):
    """高级查询 / 自定义SQL: a client of the JSON API (search, preview, validate, saved queries)."""
    labels = {
        **condition_labels(),
        "valid": _("The rule is valid."),
        "saved": _("Saved."),
        "confirmDelete": _("Delete this saved query?"),
        # registered pickers (the tags app: include tags (any of), exclude tags (none of)), with the
        # choices this user may use
        "pickers": [{"kind": p.node_kind, "label": str(p.label), "groups": p.choices(request.user)}
                    for p in pickers()],
        "personalTag": _("%(name)s (personal)"),
    }
    return page(request, "segments/query.html", {"title": _("Advanced query"), "labels": labels,
                                                 "sql_help": sql_function_help()})
