"""``{% load imports_export %}``: ``user|may_export`` (whether the user may export customers)."""

from django import template

from shoal.core.auth import user_can

register = template.Library()


@register.filter
def may_export(user) -> bool:
    from shoal.imports.exporting import EXPORT_PERMISSION

    return user_can(user, EXPORT_PERMISSION)
