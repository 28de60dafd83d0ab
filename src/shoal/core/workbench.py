"""The workbench (工作台): the registry of boards and who sees which boards in which order.

Core holds no board. Each app registers its boards in its own ``boards.py`` (imported by its ``registry.py``)
with :func:`register_board`; another app may add a figure to a board it does not own with
:func:`register_figure` (the events app adds its figure to today's customer activity that way).

A board computes its content for one user (``compute(*, actor, params) -> BoardContent``): figures (a label, a
value and the link to the list behind it) and an optional chart (drawn with unfold's bundled Chart.js). Every
figure counts only what the user may see: the board's compute function reads through the app's scoped selectors.

The boards a user sees: their own layout (a ``WorkbenchLayout`` row of the user), else the defaults the admin set
for their roles (rows of the roles, merged in role order), else every board marked ``default`` in registry order;
in every case only the boards the user may see (``Board.allowed``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

logger = logging.getLogger("shoal.workbench")

SIZES = ("sm", "md", "lg")  # a third, a third (taller), two thirds of the row


@dataclass(frozen=True)
class Figure:
    """One number (or short text) of a board; ``href`` opens the list behind it."""

    key: str
    label: Any
    value: int | str | None
    href: str | None = None

    def as_dict(self) -> dict:
        return {"key": self.key, "label": str(self.label), "value": self.value, "href": self.href}

    @property
    def is_text(self) -> bool:
        """A value that is words, not a count (drawn smaller)."""
        return self.value is not None and not isinstance(self.value, int) and len(str(self.value)) > 8


@dataclass
class Chart:
    """A chart of a board: ``labels`` and one or more series ``{"label", "data"}``."""

    labels: list[str]
    series: list[dict]
    type: str = "bar"  # bar | doughnut | line
    horizontal: bool = False

    def as_dict(self) -> dict:
        return {"type": self.type, "horizontal": self.horizontal, "labels": [str(x) for x in self.labels],
                "series": [{"label": str(s["label"]), "data": list(s["data"])} for s in self.series]}

    def chartjs(self) -> str:
        """The Chart.js ``data`` (JSON) as the workbench script draws it."""
        palette = ["var(--color-primary-500)", "var(--color-primary-300)", "var(--color-primary-700)"]
        datasets = []
        for i, s in enumerate(self.series):
            color = palette[i % len(palette)]
            datasets.append({"label": str(s["label"]), "data": list(s["data"]), "borderRadius": 4, "maxBarThickness": 28,
                             "backgroundColor": color if self.type == "bar" else [
                                 f"var(--color-primary-{shade})" for shade in (700, 500, 300, 600, 400, 200, 800, 100)]})
        return json.dumps({"labels": [str(x) for x in self.labels], "datasets": datasets}, ensure_ascii=False)


@dataclass
class Tab:
    """A choice of a board's view (e.g. rank by follow-ups or by call time): ``query`` is added to the board's
    URL."""

    label: Any
    query: str
    active: bool = False


@dataclass
class BoardContent:
    figures: list[Figure] = field(default_factory=list)
    chart: Chart | None = None
    tabs: list[Tab] = field(default_factory=list)
    empty: Any = ""  # shown when there is nothing to show (no figure, no chart)
    note: Any = ""  # a line under the figures (e.g. "counted up to 10,000")


Compute = Callable[..., BoardContent]
Permission = str | Callable[[Any], bool] | None


@dataclass(frozen=True)
class Board:
    """A board of the catalogue.

    - ``compute(*, actor, params)``: the board's content for ``actor``; ``params`` are the query of the board's
      request (a tab's choice), empty for the API;
    - ``permission``: a permission code (``<menu>.<action>``), a test of the user, or None (every user);
    - ``order``: place in the built-in default layout and in the catalogue; ``default``: in the built-in default;
    - ``size``: "sm", "md" or "lg" (two columns); ``template``: how its content is drawn."""

    code: str
    title: Any
    compute: Compute
    permission: Permission = None
    order: int = 100
    size: str = "md"
    default: bool = True
    description: Any = ""
    template: str = "shoal/workbench/board.html"

    def allowed(self, user) -> bool:
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        if self.permission is None:
            return True
        if isinstance(self.permission, str):
            return user.has_shoal_perm(self.permission)
        return bool(self.permission(user))


@dataclass(frozen=True)
class FigureSource:
    """A figure another app adds to a board: ``compute(*, actor) -> Figure | None`` (None: not for this user)."""

    key: str
    compute: Callable[..., Figure | None]
    order: int = 100


BOARDS: dict[str, Board] = {}
EXTRA_FIGURES: dict[str, list[FigureSource]] = {}


def register_board(board: Board) -> Board:
    if board.size not in SIZES:
        raise ValueError(f"unknown board size {board.size}")
    BOARDS.setdefault(board.code, board)
    return BOARDS[board.code]


def register_figure(board_code: str, source: FigureSource) -> FigureSource:
    """Add a figure to the board ``board_code`` (registered before or after)."""
    sources = EXTRA_FIGURES.setdefault(board_code, [])
    if all(s.key != source.key for s in sources):
        sources.append(source)
        sources.sort(key=lambda s: s.order)
    return source


def catalogue(user=None) -> list[Board]:
    """Every board in registry order; with ``user``, only those the user may see."""
    boards = sorted(BOARDS.values(), key=lambda b: (b.order, b.code))
    return [b for b in boards if user is None or b.allowed(user)]


def builtin_default() -> list[str]:
    return [b.code for b in catalogue() if b.default]


# -- layouts -------------------------------------------------------------------------------------------------
def _layout_model():
    from .models import WorkbenchLayout

    return WorkbenchLayout


def role_default(role_id: int) -> list[str] | None:
    """The boards the admin chose for a role, or None when the role has no default of its own."""
    row = _layout_model().objects.filter(role_id=role_id).first()
    return None if row is None else [c for c in row.boards if c in BOARDS]


def default_codes(user) -> list[str]:
    """The boards a user sees before choosing: the defaults of their roles (merged in role order), else the
    built-in default."""
    rows = list(_layout_model().objects.filter(role__users=user).order_by("role_id").values_list("boards", flat=True))
    if not rows:
        return builtin_default()
    return list(dict.fromkeys(code for boards in rows for code in boards))


def user_codes(user) -> list[str]:
    """The boards ``user`` sees, in order: their own layout, else their roles' default; only boards they may see."""
    row = _layout_model().objects.filter(user=user).values_list("boards", flat=True).first()
    codes = row if row is not None else default_codes(user)
    return [c for c in dict.fromkeys(codes) if c in BOARDS and BOARDS[c].allowed(user)]


def user_boards(user) -> list[Board]:
    return [BOARDS[c] for c in user_codes(user)]


def has_own_layout(user) -> bool:
    return _layout_model().objects.filter(user=user).exists()


OPS = ("show", "hide", "up", "down", "set", "reset")


def apply_op(codes: list[str], op: str, code: str = "", codes_in: list[str] | None = None) -> list[str]:
    """The list of board codes after one change: show (append), hide, up, down (swap with the neighbour), set
    (the given list)."""
    codes = list(codes)
    if op == "set":
        return list(dict.fromkeys(c for c in (codes_in or []) if c in BOARDS))
    if op == "show" and code in BOARDS and code not in codes:
        codes.append(code)
    elif op == "hide" and code in codes:
        codes.remove(code)
    elif op in ("up", "down") and code in codes:
        i = codes.index(code)
        j = i - 1 if op == "up" else i + 1
        if 0 <= j < len(codes):
            codes[i], codes[j] = codes[j], codes[i]
    return codes


def user_layout_change(*, actor, op: str, code: str = "", codes: list[str] | None = None) -> list[str]:
    """Change the actor's own layout (``OPS``); ``reset`` goes back to the roles' default. Boards the actor may not
    see are never added. Returns the boards the actor now sees."""
    from .errors import ShoalError

    if op not in OPS:
        raise ShoalError("invalid", "unknown operation", {"field": "op"})
    model = _layout_model()
    if op == "reset":
        model.objects.filter(user=actor).delete()
        return user_codes(actor)
    current = user_codes(actor)
    new = [c for c in apply_op(current, op, code, codes) if BOARDS[c].allowed(actor)]
    model.objects.update_or_create(user=actor, defaults={"boards": new})
    return user_codes(actor)


def role_layout_change(*, actor, role, op: str, code: str = "", codes: list[str] | None = None) -> list[str] | None:
    """Change the default boards of ``role`` (the admin's 默认工作台); ``reset``: the built-in default again."""
    from .errors import ShoalError
    from .oplog import log_operation

    if op not in OPS:
        raise ShoalError("invalid", "unknown operation", {"field": "op"})
    model = _layout_model()
    if op == "reset":
        model.objects.filter(role=role).delete()
        new = None
    else:
        current = role_default(role.pk)
        new = apply_op(builtin_default() if current is None else current, op, code, codes)
        model.objects.update_or_create(role=role, defaults={"boards": new})
    log_operation(actor=actor, action="workbench.role_default", obj=role, detail={"boards": new})
    return new


# -- computing ------------------------------------------------------------------------------------------------
def board_content(board: Board, *, actor, params: Mapping[str, str] | None = None) -> BoardContent:
    """The board's content for ``actor`` with the figures other apps add. Raises what the board raises."""
    content = board.compute(actor=actor, params=params or {})
    for source in EXTRA_FIGURES.get(board.code, []):
        figure = source.compute(actor=actor)
        if figure is not None:
            content.figures.append(figure)
    return content


def board_dict(board: Board, *, actor) -> dict:
    """A board as the API gives it; a board that fails gives its error instead of figures."""
    out = {"code": board.code, "title": str(board.title), "size": board.size, "figures": [], "chart": None,
           "error": None}
    try:
        content = board_content(board, actor=actor)
    except Exception:  # one board never breaks the others
        logger.exception("workbench board %s failed", board.code)
        from django.utils.translation import gettext

        out["error"] = gettext("This board could not be loaded; the error has been logged.")
        return out
    out["figures"] = [f.as_dict() for f in content.figures]
    out["chart"] = content.chart.as_dict() if content.chart else None
    return out


# -- local days (the figures count by the user's local calendar: Asia/Shanghai by default) --------------------
def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def today_bounds(offset: int = 0) -> tuple[datetime, datetime]:
    """[start, end) of today (``offset`` 0), yesterday (-1)… in local time."""
    day = timezone.localdate() + timedelta(days=offset)
    return day_start(day), day_start(day + timedelta(days=1))


def week_start() -> datetime:
    """Monday 00:00 of this week, local time."""
    today = timezone.localdate()
    return day_start(today - timedelta(days=today.weekday()))


def capped_count(qs, cap: int) -> tuple[int, bool]:
    """How many rows ``qs`` has, counting at most ``cap`` + 1: (count, more than ``cap``). A figure that could
    reach millions on a busy day is read in bounded time and shown as "10,000+"."""
    n = qs.order_by()[: cap + 1].count()
    return min(n, cap), n > cap


def shown_count(qs, cap: int = 10_000) -> int | str:
    n, more = capped_count(qs, cap)
    return f"{n}+" if more else n
