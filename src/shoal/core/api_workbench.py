"""``GET /api/v1/workbench``: the caller's workbench boards with their figures, in the caller's order (their own
choice, else their roles' default). Each figure is counted in the caller's data scope; a board that fails gives
its ``error`` and no figures, the others are unaffected."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema

from shoal.core.auth import calling_user

from . import workbench as wb

router = Router(tags=["workbench"])


class FigureOut(Schema):
    key: str
    label: str
    value: int | str | None
    href: str | None


class SeriesOut(Schema):
    label: str
    data: list[Any]


class ChartOut(Schema):
    type: str
    horizontal: bool
    labels: list[str]
    series: list[SeriesOut]


class BoardOut(Schema):
    code: str
    title: str
    size: str
    figures: list[FigureOut]
    chart: ChartOut | None
    error: str | None


class WorkbenchOut(Schema):
    boards: list[BoardOut]


@router.get("/workbench", response=WorkbenchOut, summary="The caller's workbench boards and their figures")
def workbench(request):
    user = calling_user(request)
    return {"boards": [wb.board_dict(board, actor=user) for board in wb.user_boards(user)]}
