"""The sidebar, built from the permission registry: a user sees the menus they may view."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .auth import user_can
from .permissions import SECTIONS


def _can(code):
    def check(request):
        return user_can(request.user, code)

    return check


def sidebar(request):
    groups = [{
        "title": _("Workbench"),
        "separator": False,
        "items": [{"title": _("Workbench"), "icon": "dashboard", "link": reverse("admin:index")}],
    }]
    for section in SECTIONS.values():
        items = []
        for menu in section.menus:
            if not menu.url_name:
                continue
            try:
                link = reverse(menu.url_name)
            except NoReverseMatch:
                continue
            items.append({"title": menu.label, "icon": menu.icon, "link": link,
                          "permission": _can(menu.sidebar_permission)})
        if items:
            groups.append({"title": section.label, "separator": True, "collapsible": False, "items": items})
    return groups
