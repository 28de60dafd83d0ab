"""The workbench pages: the page itself (unfold's index, with a placeholder per board), one board (each board is
its own request: a slow or failing board never holds up or breaks the page), the user's choice of boards, and the
admin's default boards per role (工作台模块管理)."""

from __future__ import annotations

import logging

from django.apps import apps
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import workbench as wb
from .auth import page_requires, require_page, user_can
from .views import page

logger = logging.getLogger("shoal.workbench")

DEFAULTS_VIEW = "system.workbench.view"
DEFAULTS_EDIT = "system.workbench.edit"


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _panel_items(codes: list[str], offered: list[wb.Board]) -> list[dict]:
    """The rows of a settings panel: the chosen boards in order, then the others of the catalogue."""
    by_code = {b.code: b for b in offered}
    chosen = [c for c in codes if c in by_code]
    rows = [{"board": by_code[c], "shown": True, "first": i == 0, "last": i == len(chosen) - 1}
            for i, c in enumerate(chosen)]
    rows += [{"board": b, "shown": False} for b in offered if b.code not in chosen]
    return rows


def workbench_context(request) -> dict:
    user = request.user
    codes = wb.user_codes(user)
    return {
        "boards": [wb.BOARDS[c] for c in codes],
        "panel_items": _panel_items(codes, wb.catalogue(user)),
        "own_layout": wb.has_own_layout(user),
        "layout_url": reverse("admin:workbench_layout"),
    }


def workbench_callback(request, context):
    """unfold's DASHBOARD_CALLBACK: the user's boards (each loads on its own) and the personalisation panel."""
    context.update(workbench_context(request))
    return context


def _parse_action(request) -> tuple[str, str]:
    """``action`` is ``<op>:<board code>`` (a button of the panel) or ``reset``."""
    raw = (request.POST.get("action") or "")[:200]
    op, _sep, code = raw.partition(":")
    return op, code


# -- one board -----------------------------------------------------------------------------------------------
def board_view(request, code: str):
    """The content of one board for the user (an htmx fragment). A board that raises shows a message in its own
    box (status 200, so the page swaps it in) and is logged."""
    board = wb.BOARDS.get(code)
    if board is None:
        raise Http404(_("No such board"))
    if not board.allowed(request.user):
        return HttpResponse(_("You may not see this board."), status=403)
    params = {k: v[:50] for k, v in request.GET.items()}
    try:
        content = wb.board_content(board, actor=request.user, params=params)
    except Exception:
        logger.exception("workbench board %s failed", code)
        return render(request, "shoal/workbench/board_error.html", {"board": board})
    return render(request, board.template, {
        "board": board, "content": content, "chart_json": content.chart.chartjs() if content.chart else "",
        "board_url": reverse("admin:workbench_board", args=[board.code])})


# -- the user's choice ------------------------------------------------------------------------------------------
@require_POST
def layout_view(request):
    """A change of the user's boards (show, hide, up, down, reset); htmx gets the page body back, a plain form
    post goes back to the workbench."""
    op, code = _parse_action(request)
    if op in wb.OPS:
        wb.user_layout_change(actor=request.user, op=op, code=code, codes=request.POST.getlist("boards"))
    if not _is_htmx(request):
        return HttpResponseRedirect(reverse("admin:index"))
    return render(request, "shoal/workbench/_body.html", {**workbench_context(request), "panel_open": True})


# -- the admin's defaults per role --------------------------------------------------------------------------------
@page_requires(DEFAULTS_VIEW)
def defaults_page(request):
    """工作台模块管理: the catalogue of boards and, per role, the boards its users see until they choose their own."""
    Role = apps.get_model("accounts", "Role")
    roles = list(Role.objects.order_by("id"))
    raw = request.POST.get("role") if request.method == "POST" else request.GET.get("role")
    role = next((r for r in roles if str(r.pk) == str(raw or "")), roles[0] if roles else None)
    can_edit = user_can(request.user, DEFAULTS_EDIT)
    if request.method == "POST":
        require_page(request, DEFAULTS_EDIT)
        if role is None:
            raise Http404(_("Role not found"))
        op, code = _parse_action(request)
        if op in wb.OPS:
            wb.role_layout_change(actor=request.user, role=role, op=op, code=code,
                                  codes=request.POST.getlist("boards"))
        if not _is_htmx(request):
            return HttpResponseRedirect(reverse("admin:workbench_defaults") + f"?role={role.pk}")
    own = wb.role_default(role.pk) if role is not None else None
    codes = wb.builtin_default() if own is None else own
    context = {"title": _("Workbench boards"), "roles": roles, "role": role, "can_edit": can_edit,
               "role_has_own": own is not None, "panel_items": _panel_items(codes, wb.catalogue()),
               "catalogue": wb.catalogue(), "post_url": reverse("admin:workbench_defaults")}
    if request.method == "POST":
        return render(request, "shoal/workbench/_role_panel.html", context)
    return page(request, "shoal/workbench/defaults.html", context)


def register_pages(site) -> None:
    site.register_page("workbench/boards/<str:code>/", board_view, "workbench_board")
    site.register_page("workbench/layout/", layout_view, "workbench_layout")
    site.register_page("system/workbench/", defaults_page, "workbench_defaults")
