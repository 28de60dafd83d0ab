"""The permission registry: every menu and every button/action a role can be granted.

A permission code is ``<menu code>.<action>``, e.g. ``system.users.edit``. Later apps add their
menus with :func:`register_menu`; roles store lists of codes; a user's permissions are the union
of their roles' codes (a superuser has them all).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "view": _("View"),
    "create": _("Create"),
    "edit": _("Edit"),
    "delete": _("Delete"),
    "import": _("Import"),
    "export": _("Export"),
    "assign": _("Assign"),
    "tag": _("Tag"),
    "run": _("Run now"),
    "reset_password": _("Reset password"),
}


@dataclass(frozen=True)
class Menu:
    code: str
    label: str
    section: str
    actions: tuple[str, ...] = ("view",)
    url_name: str | None = None
    icon: str = "circle"
    view_permission: str | None = None  # a page that is reached with another menu's permission
    order: int = 100  # place in its section (menus are registered by several apps, in app order)

    def permission_codes(self) -> list[str]:
        return [f"{self.code}.{a}" for a in self.actions]

    @property
    def sidebar_permission(self) -> str:
        return self.view_permission or f"{self.code}.view"


@dataclass(frozen=True)
class Section:
    code: str
    label: str
    menus: list[Menu] = field(default_factory=list)


SECTIONS: dict[str, Section] = {}
for _code, _label in [
    ("customers", _("Customer management")),
    ("sales", _("Sales management")),
    ("marketing", _("Marketing tools")),
    ("analytics", _("Reports")),
    ("system", _("System management")),
]:
    SECTIONS[_code] = Section(_code, _label)

MENUS: dict[str, Menu] = {}


def register_menu(menu: Menu) -> Menu:
    if menu.section not in SECTIONS:
        raise ValueError(f"unknown section {menu.section}")
    if menu.code in MENUS:
        return MENUS[menu.code]
    MENUS[menu.code] = menu
    menus = SECTIONS[menu.section].menus
    menus.append(menu)
    menus.sort(key=lambda m: m.order)
    return menu


def all_permission_codes() -> set[str]:
    return {code for menu in MENUS.values() for code in menu.permission_codes()}


def validate_codes(codes) -> list[str]:
    from .errors import ShoalError

    known = all_permission_codes()
    codes = list(dict.fromkeys(codes))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ShoalError("unknown_permission", _("Unknown permission codes"), {"codes": unknown})
    return sorted(codes)


def permission_tree(granted: set[str] | None = None) -> list[dict]:
    """Sections → menus → actions, each marked granted or not (the 菜单权限预览)."""
    granted = granted or set()
    tree = []
    for section in SECTIONS.values():
        menus = []
        for menu in section.menus:
            actions = [
                {"code": f"{menu.code}.{a}", "action": a, "label": ACTION_LABELS.get(a, a),
                 "granted": f"{menu.code}.{a}" in granted}
                for a in menu.actions
            ]
            if not actions:
                continue
            menus.append({"code": menu.code, "label": menu.label, "actions": actions,
                          "granted": any(x["granted"] for x in actions)})
        tree.append({"code": section.code, "label": section.label, "menus": menus,
                     "granted": any(m["granted"] for m in menus)})
    return tree


CRUD = ("view", "create", "edit", "delete")

# Core's own menus; every app registers its menus in its ``registry.py``.
register_menu(Menu("system.parameters", _("Parameters"), "system", ("view", "edit"),
                   "admin:parameters", "tune", order=50))
register_menu(Menu("system.workbench", _("Workbench boards"), "system", ("view", "edit"),
                   "admin:workbench_defaults", "dashboard_customize", order=55))
register_menu(Menu("system.operation_log", _("Operation log"), "system", ("view",),
                   "admin:core_operationlog_changelist", "history", order=80))
